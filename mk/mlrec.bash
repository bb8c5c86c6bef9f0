# bash completion of mlrec's commands (make install): the options of a tool
# or a pipeline are the --words of its own --help, read when first asked.
_mlrec() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[0]} var
    if [[ $cur != -* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return
    fi
    var=_mlrec_opts_${cmd//[^A-Za-z0-9]/_}
    if [[ -z ${!var:-} ]]; then
        printf -v "$var" '%s' "$("$cmd" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u | tr '\n' ' ')"
    fi
    COMPREPLY=($(compgen -W "${!var}" -- "$cur"))
}
# make install adds the `complete` line naming every command.
