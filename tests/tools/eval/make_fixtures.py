#!/usr/bin/python3
"""Writes the tiny fixtures of tests/tools/{topk,score,baseline}.sh and their
expected outputs, computed here independently with numpy (run from this
directory with Debian's /usr/bin/python3; the outputs are committed).
Integer-valued embeddings make every score exact and full of ties, so the
tie rule (higher score first, then smaller catalogue index) is exercised."""
import math
import numpy as np

rng = np.random.default_rng(7)
M, N, D = 30, 24, 4
I = rng.integers(-2, 3, size=(M, D)).astype('<f4')
Q = rng.integers(-2, 3, size=(N, D)).astype('<f4')
np.save('I.npy', I)
np.save('Q.npy', Q)
items = [f'm{j:02d}' for j in range(M)]
# Row counts per user are powers of two (1, 2, 4, 8, 8, 1) so that the mean
# query of a user is exact in float32 and its scores tie exactly as here.
users = [f'u{u}' for u, n in enumerate((1, 2, 4, 8, 8, 1)) for _ in range(n)]
users = [users[i] for i in rng.permutation(N)]
open('I.ids', 'w').write('id\n' + ''.join(i + '\n' for i in items))
open('Q.ids', 'w').write('id\n' + ''.join(u + '\n' for u in users))
# Test rows: row q is query q's truth; two items are not in the catalogue.
# (user, item) pairs are distinct, as in MovieLens.
truth = []
for q in range(N):
    t = items[rng.integers(0, M)]
    while (users[q], t) in zip(users, truth):
        t = items[rng.integers(0, M)]
    truth.append(t)
truth[3], truth[17] = 'gone1', 'gone2'
ratings = [int(rng.integers(1, 6)) for _ in range(N)]
with open('test.tsv', 'w') as f:
    f.write('user_id\titem_id\trating\n')
    for u, t, r in zip(users, truth, ratings):
        f.write(f'{u}\t{t}\t{r}\n')
train = set()
while len(train) < 40:
    train.add((f'u{rng.integers(0, 6)}', items[rng.integers(0, M)]))
train = sorted(train)
with open('train.tsv', 'w') as f:
    f.write('user_id\titem_id\trating\n')
    for u, i in train:
        f.write(f'{u}\t{i}\t4\n')
seen = {}
for u, i in train:
    seen.setdefault(u, set()).add(items.index(i))
with open('pred.tsv', 'w') as f:
    f.write('item_id\tuser_id\tprediction\n')
    for q in reversed(range(N)):
        f.write(f'{truth[q]}\t{users[q]}\t{ratings[q] + (q % 3 - 1) * 0.5}\n')

S = Q.astype(np.float64) @ I.T.astype(np.float64)

def order(s, drop=()):
    return [j for j in sorted(range(M), key=lambda j: (-s[j], j)) if j not in drop]

def g(x):
    return f'{x:.6g}'

def write_lists(path, k, with_users, exclude):
    with open(path, 'w') as f:
        f.write('query\tuser_id\trank\titem_id\tscore\n' if with_users else 'query\trank\titem_id\tscore\n')
        for q in range(N):
            drop = seen.get(users[q], set()) if exclude else set()
            for r, j in enumerate(order(S[q], drop)[:k]):
                u = users[q] + '\t' if with_users else ''
                f.write(f'{q}\t{u}{r + 1}\t{items[j]}\t{g(S[q, j])}\n')

write_lists('expected_topk_k5.tsv', 5, False, False)
write_lists('expected_topk_excl_k40.tsv', 40, True, True)

def metrics(at):
    out = [('queries', N)]
    def ranks(drop_seen):
        rs = []
        for q in range(N):
            if truth[q] not in items:
                rs.append(None)
                continue
            t = items.index(truth[q])
            drop = (seen.get(users[q], set()) - {t}) if drop_seen else set()
            rs.append(order(S[q], drop).index(t) + 1)
        return rs
    for suffix, rs in (('', ranks(False)), ('_excl', ranks(True))):
        for k in (1, 5, 10, 50, 100):
            out.append((f'top{k}{suffix}', sum(1 for r in rs if r is not None and r <= k) / N))
    ulist = sorted(set(users), key=users.index)
    out.append(('users', len(ulist)))
    for k in at:
        sums = [0.0] * 5
        covered = set()
        for u in ulist:
            rows = [q for q in range(N) if users[q] == u]
            mean = Q[rows].astype(np.float32).mean(axis=0, dtype=np.float64)
            s = (mean.astype(np.float32).astype(np.float64) @ I.T.astype(np.float64))
            lst = order(s, seen.get(u, set()))[:k]
            covered.update(lst)
            rel = {truth[q] for q in rows}
            hits = [p for p, j in enumerate(lst) if items[j] in rel]
            dcg = sum(1 / math.log2(p + 2) for p in hits)
            idcg = sum(1 / math.log2(p + 2) for p in range(min(k, len(rel))))
            ap = sum((n + 1) / (p + 1) for n, p in enumerate(hits)) / min(k, len(rel))
            for i, v in enumerate((len(hits) / len(rel), len(hits) / k, dcg / idcg, ap, 1.0 if hits else 0.0)):
                sums[i] += v
        for name, v in zip(('recall', 'precision', 'ndcg', 'map', 'hit_rate'), sums):
            out.append((f'{name}@{k}', v / len(ulist)))
        out.append((f'coverage@{k}', len(covered) / M))
    return out

def write_metrics(path, rows, pred):
    with open(path, 'w') as f:
        f.write('metric\tvalue\n')
        for name, v in rows:
            f.write(f'{name}\t{v}\n' if isinstance(v, int) else f'{name}\t{g(v)}\n')
        if pred:
            err = [(q % 3 - 1) * 0.5 for q in range(N)]
            f.write(f'rmse\t{g(math.sqrt(sum(e * e for e in err) / N))}\n')
            f.write(f'mae\t{g(sum(abs(e) for e in err) / N)}\n')

write_metrics('expected_score.tsv', metrics([10, 5]), True)

# Baselines on the same catalogue: popularity (training counts) and EASE.
counts = np.zeros(M)
for u, i in train:
    counts[items.index(i)] += 1
X = np.zeros((6, M))
for u, i in train:
    X[int(u[1:]), items.index(i)] = 1
P = np.linalg.inv(X.T @ X + 2.0 * np.eye(M))
Bm = -P / np.diag(P)
np.fill_diagonal(Bm, 0)

def write_baseline(path, score_of, exclude, k=5):
    with open(path, 'w') as f:
        f.write('query\tuser_id\trank\titem_id\tscore\n')
        for q in range(N):
            s = score_of(users[q])
            drop = seen.get(users[q], set()) if exclude else set()
            for r, j in enumerate(order(s, drop)[:k]):
                f.write(f'{q}\t{users[q]}\t{r + 1}\t{items[j]}\t{g(s[j])}\n')

write_baseline('expected_pop_k5.tsv', lambda u: counts, False)
write_baseline('expected_ease_excl_k5.tsv', lambda u: X[int(u[1:])] @ Bm, True)
# EASE's exact ties (items no one tells apart) fall either way in float32,
# so its test compares scores with a tolerance: every (user, item) score.
with open('expected_ease_scores.tsv', 'w') as f:
    f.write('user_id\titem_id\tscore\n')
    for u in sorted(set(users)):
        s = X[int(u[1:])] @ Bm
        for j in range(M):
            f.write(f'{u}\t{items[j]}\t{s[j]:.9g}\n')
