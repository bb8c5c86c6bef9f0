#!/bin/sh
# grid.sh and topk-sharded.sh with a real second host over ssh: an
# OpenSSH server started here on 127.0.0.1 at a free unprivileged port,
# with a throwaway host key and user key (all in the test's temporary
# folder, killed at the end whatever happens). Its logins run in a login
# folder of their own, not the caller's working folder; the host "blind"
# also has the caller's folder hidden (an empty tmpfs mounted over it in a
# mount namespace), so a job there can only use what travelled to it.
#   - topk-sharded.sh over blind and this machine: the files go with
#     --basefile and the lists come back with --return; the output equals
#     a single local mlr-topk run's (cmp); no work folder left there.
#   - grid.sh needs the same paths on every host (a shared file system):
#     over "seer" (another login folder, the same paths) a 2-run grid
#     gives the local grid's metrics and models (cmp); over "blind" it is
#     refused before any run, naming the problem.
#   - both carry the caller's OPENBLAS_* settings to the host (an ssh
#     login starts bare): the test names a kernel (OPENBLAS_CORETYPE) that
#     is not the one OpenBLAS would pick, so a host left to pick its own
#     would give other bits and the cmp checks above would fail.
# Where sshd cannot start (not installed, no port), every check prints
# SKIP with the reason, never PASS.
. "$(dirname "$0")/lib.sh"
G=$MLR_ROOT/pipelines/grid.sh
S=$MLR_ROOT/pipelines/topk-sharded.sh
sshd=${MLR_TEST_SSHD:-/usr/sbin/sshd} # another sshd to try, or a missing one to see the SKIP
skip_all() { skip "multihost" "$1"; exit 0; }
[ -x "$sshd" ] || skip_all "no $sshd (openssh-server: make deps)"
for c in ssh ssh-keygen rsync parallel; do
    command -v "$c" >/dev/null 2>&1 || skip_all "$c is not installed (make deps)"
done
for t in mlr-train mlr-embed mlr-predict mlr-topk mlr-slice; do
    command -v "$t" >/dev/null 2>&1 || skip_all "$t is not built yet"
done

# Sandybridge (AVX, no FMA): other roundings than the kernel of any
# machine this runs on today; kept if the caller already named one.
[ "$(uname -m)" != x86_64 ] || [ -n "${OPENBLAS_CORETYPE:-}" ] || { OPENBLAS_CORETYPE=Sandybridge; export OPENBLAS_CORETYPE; }

# ---- the server ----
K=$T/ssh HERE=$T/here
mkdir -m 700 "$K" "$K/home" && mkdir "$HERE" || exit 1
sshd_pid=
stop_sshd() {
    # The shared connections first (ssh's ControlMaster), then the server.
    for h in seer blind; do ssh -F "$K/ssh_config" -O exit "$h" >/dev/null 2>&1; done
    [ -z "$sshd_pid" ] || { kill "$sshd_pid" 2>/dev/null; wait "$sshd_pid" 2>/dev/null; }
    sshd_pid=
}
trap 'stop_sshd; rm -rf "$T"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM
# As root sshd wants its privilege separation folder, which the Debian
# service makes and a machine where it never ran lacks: made here and
# left (other tests' servers may be using it); as another user sshd runs
# without one.
[ "$(id -u)" -ne 0 ] || [ -d /run/sshd ] || mkdir -m 755 /run/sshd 2>/dev/null
ssh-keygen -q -t ed25519 -N '' -C mlrec-test-host -f "$K/host_key" &&
    ssh-keygen -q -t ed25519 -N '' -C mlrec-test-user -f "$K/user_key" || skip_all "ssh-keygen failed"
cp "$K/user_key.pub" "$K/authorized_keys"
me_user=$(id -un)

# The logins' command runs through this: a login folder of its own; for
# the host "blind" (MLR_TEST_HOST=blind, sent by the client) the caller's
# folder hidden in a mount namespace of its own.
hide=
if unshare -m sh -c "mount -t tmpfs mlrtest '$HERE'" 2>/dev/null; then hide="unshare -m"
elif unshare -rm sh -c "mount -t tmpfs mlrtest '$HERE'" 2>/dev/null; then hide="unshare -rm"; fi
cat >"$K/login" <<EOS
#!/bin/sh
HOME='$K/home'; export HOME
cd "\$HOME" || exit 1
if [ "\${MLR_TEST_HOST:-}" = blind ]; then
    exec $hide sh -c 'mount -t tmpfs mlrtest "\$1" && cd "\$HOME" && exec sh -c "\$SSH_ORIGINAL_COMMAND"' sh '$HERE'
fi
exec sh -c "\${SSH_ORIGINAL_COMMAND:-true}"
EOS
chmod 755 "$K/login"

start_sshd() { # PORT: starts sshd on 127.0.0.1:PORT, 0 once it listens
    cat >"$K/sshd_config" <<EOC
ListenAddress 127.0.0.1
Port $1
HostKey $K/host_key
PidFile $K/sshd.pid
AuthorizedKeysFile $K/authorized_keys
AllowUsers $me_user
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AcceptEnv MLR_TEST_HOST
ForceCommand $K/login
MaxStartups 100
EOC
    "$sshd" -D -e -f "$K/sshd_config" 2>"$K/sshd.log" &
    sshd_pid=$!
    i=0
    while [ "$i" -lt 100 ]; do
        grep -q 'Server listening' "$K/sshd.log" && return 0
        kill -0 "$sshd_pid" 2>/dev/null || { wait "$sshd_pid" 2>/dev/null; sshd_pid=; return 1; }
        sleep 0.1; i=$((i + 1))
    done
    stop_sshd; return 1
}
port=
for try in 1 2 3 4 5; do
    p=$(awk -v s="$$$try" 'BEGIN { srand(s); print 20000 + int(rand() * 40000) }')
    if start_sshd "$p"; then port=$p; break; fi
done
[ -n "$port" ] || skip_all "sshd did not start on 5 ports tried: $(tail -n 1 "$K/sshd.log" | grep . || echo "it exited without a message")"

printf 'mlrtest %s\n' "$(cut -d' ' -f1,2 "$K/host_key.pub")" >"$K/known_hosts"
for h in seer blind; do
    cat <<EOC
Host $h
    HostName 127.0.0.1
    Port $port
    User $me_user
    HostKeyAlias mlrtest
    IdentityFile $K/user_key
    IdentitiesOnly yes
    UserKnownHostsFile $K/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    LogLevel ERROR
    SetEnv MLR_TEST_HOST=$h
    ControlMaster auto
    ControlPath $K/cm-%n
    ControlPersist 60
EOC
done >"$K/ssh_config"
PARALLEL_SSH="ssh -F $K/ssh_config"
export PARALLEL_SSH
if ! got=$(ssh -F "$K/ssh_config" seer pwd 2>"$K/ssh.err"); then
    skip_all "ssh to the test server failed: $(tail -n 1 "$K/ssh.err")"
fi
cd "$HERE" || exit 1
check "ssh: a login runs in its own folder, not the caller's" test "$got" = "$K/home"

# ---- top-k: the files travel ----
f4 1000 8 1 >q.npy
f4 300 8 2 >i.npy
awk 'BEGIN { print "id"; for (i = 0; i < 1000; i++) print "u" (i * 7) % 61 }' >q.ids
awk 'BEGIN { print "id"; for (i = 0; i < 300; i++) print "m" i }' >i.ids
awk 'BEGIN { srand(3); print "user_id\titem_id\trating"
    for (i = 0; i < 4000; i++) print "u" int(rand() * 61) "\tm" int(rand() * 300) "\t4" }' >ex.tsv
mlr-topk --quiet --queries q.npy --query-ids q.ids --items i.npy --exclude ex.tsv --k 20 --block 64 \
    --threads 1 --output single.tsv
if [ -n "$hide" ]; then
    check "ssh: the host blind does not see the caller's folder" \
        test "$(ssh -F "$K/ssh_config" blind "ls -A '$HERE' | wc -l; pwd" | tr '\n' ' ')" = "0 $K/home "
    hosts="blind blind,:"
else
    skip "multihost: a host that cannot see the caller's folder" "no mount namespace (unshare -m) here; the top-k runs on seer"
    hosts="seer seer,:"
fi
for h in $hosts; do
    rm -f sharded.tsv
    sh "$S" --shards 4 --jobs 1 --sshlogin "$h" --queries q.npy --query-ids q.ids --items i.npy --item-ids i.ids \
        --exclude ex.tsv --k 20 --block 64 --threads 1 --quiet --output sharded.tsv 2>"$T/err"
    st=$?
    check "top-k over $h: status 0" test "$st" -eq 0
    [ "$st" -eq 0 ] || tail -n 5 "$T/err" | sed 's/^/    /'
    same "top-k over $h: the single local run's output" sharded.tsv single.tsv
    check "top-k over $h: no work folder left on the host" test -z "$(ls -A "$K/home")"
    check "top-k over $h: no work folder left here" test -z "$(ls -d topk-sharded.* 2>/dev/null)"
done
# A shard failing there (ids of the wrong length): status 1, its message
# with the names it was given, nothing left there.
head -n 5 i.ids >short.ids
cp single.tsv keep.tsv
h=${hosts%% *}
sh "$S" --shards 2 --jobs 1 --sshlogin "$h" --queries q.npy --items i.npy --item-ids short.ids --k 3 \
    --output keep.tsv >/dev/null 2>"$T/err"
check "top-k over $h, a failing shard: status 1" test $? -eq 1
check "top-k over $h, a failing shard: mlr-topk's message" grep -q '^mlr-topk: in/items.ids has 4 rows' "$T/err"
check "top-k over $h, a failing shard: the staged names explained" grep -q "in/items.ids $HERE/short.ids" "$T/err"
same "top-k over $h, a failing shard: the earlier output untouched" keep.tsv single.tsv
check "top-k over $h, a failing shard: no work folder left on the host" test -z "$(ls -A "$K/home")"

# ---- grid: shared paths, checked ----
mlr-synth --n-users 200 --n-items 300 --n-ratings 8000 --seed 1 >all.tsv
mlr-split --seed 42 --test-output test.tsv all.tsv >train.tsv
sh "$G" --train train.tsv --test test.tsv --out local --jobs 2 --threads 1 -- --epochs 2 --dim ::: 8 16 \
    >/dev/null 2>"$T/err"
check "grid here: status 0" test $? -eq 0
sh "$G" --train train.tsv --test test.tsv --out remote --jobs 1 --threads 1 --sshlogin seer \
    -- --epochs 2 --dim ::: 8 16 >/dev/null 2>"$T/err"
st=$?
if [ "$st" -eq 0 ]; then pass "grid over seer: status 0"
else fail "grid over seer: status 0" "status $st: $(tail -n 5 "$T/err" | tr '\n' ' ')"; fi
check "grid over seer: both runs ran there (joblog)" test "$(awk -F'\t' 'NR > 1 && $2 == "seer" && $7 == 0' remote/joblog | wc -l)" -eq 2
for r in dim=8 dim=16; do
    same "grid over seer: $r's metrics equal the local run's" "remote/runs/$r/valid-metrics.tsv" "local/runs/$r/valid-metrics.tsv"
    # The weights, after the header (whose metadata names the folder).
    for d in local remote; do
        f=$d/runs/$r/model.safetensors
        n=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
        tail -c +$((n + 9)) "$f" >"$T/$d.weights"
    done
    check "grid over seer: $r's model has weights" test -s "$T/local.weights"
    same "grid over seer: $r's weights equal the local run's" "$T/remote.weights" "$T/local.weights"
done
cut -f1-12 local/results.tsv >"$T/local.res"; cut -f1-12 remote/results.tsv >"$T/remote.res"
same "grid over seer: the same results table (before the seconds)" "$T/remote.res" "$T/local.res"
if [ -n "$hide" ]; then
    sh "$G" --train train.tsv --test test.tsv --out blind --jobs 1 --threads 1 --sshlogin blind \
        -- --epochs 2 --dim ::: 8 16 >/dev/null 2>"$T/err"
    check "grid over blind: refused (status 1)" test $? -eq 1
    check "grid over blind: said why" grep -q "^grid: a host of --sshlogin cannot run the grid .*blind: *does not see $HERE/blind" "$T/err"
    check "grid over blind: nothing prepared, no run" test ! -e blind/prep -a -z "$(ls -A blind/runs)"
fi
sh "$G" --train train.tsv --test test.tsv --out nohost --jobs 1 --sshlogin "nosuch-host.invalid" \
    -- --dim ::: 8 >/dev/null 2>"$T/err"
check "grid over a host that does not answer: refused (status 1)" test $? -eq 1
check "grid over a host that does not answer: said so" grep -q '^grid: a host of --sshlogin cannot run the grid' "$T/err"

stop_sshd
check "the server is stopped" test -z "$(ps -o pid= -p "$(cat "$K/sshd.pid" 2>/dev/null || echo 1)" 2>/dev/null | grep -v '^ *1$')"
