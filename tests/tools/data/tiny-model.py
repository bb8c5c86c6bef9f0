# tiny-model.py OUT SHA256 [drop=NAME] [version=V] [format=F] [popularity=X]: writes a
# hand-made mlrec model with exact weights (dim 2, one linear layer per
# tower, no hidden rating layer) for the golden tests of mlr-embed and
# mlr-predict. Vocabularies: user_id and item_id of size 4.
#   query:  q = [e0 + 0.5, 2 e1 - 1],   user embedding row k = [k, -k]
#   cand:   c = [e0, e1],               item embedding row k = [k, 0.5]
#   rating: q0 + c0 + 0.25
import json, struct, sys
import numpy as np

out, sha = sys.argv[1], sys.argv[2]
opts = dict(a.split('=', 1) for a in sys.argv[3:])
k = np.arange(4, dtype='<f4')
t = {
    'query.emb.user_id': np.stack([k, -k], 1),
    'query.dense.0.weight': np.array([[1, 0], [0, 2]], '<f4'),
    'query.dense.0.bias': np.array([0.5, -1], '<f4'),
    'cand.emb.item_id': np.stack([k, np.full(4, 0.5, '<f4')], 1),
    'cand.dense.0.weight': np.eye(2, dtype='<f4'),
    'cand.dense.0.bias': np.zeros(2, '<f4'),
    'rating.dense.0.weight': np.array([[1], [0], [1], [0]], '<f4'),
    'rating.dense.0.bias': np.array([0.25], '<f4'),
}
config = {'dim': 2, 'layers': [2], 'rating_layers': [],
          'query': [{'name': 'user_id', 'kind': 'cat', 'size': 4}],
          'cand': [{'name': 'item_id', 'kind': 'cat', 'size': 4}]}
if 'popularity' in opts:  # the prior's weight; item k's log(1 + count) = k
    config['popularity'] = float(opts['popularity'])
    t['cand.popularity'] = k
t.pop(opts.get('drop'), None)
header = {'__metadata__': {'format': opts.get('format', 'mlrec-model'),
                           'version': opts.get('version', '1'),
                           'config': json.dumps(config), 'spec_sha256': sha}}
data, off = b'', 0
for name, a in t.items():
    a = np.ascontiguousarray(a, '<f4')
    header[name] = {'dtype': 'F32', 'shape': list(a.shape),
                    'data_offsets': [off, off + a.nbytes]}
    data += a.tobytes()
    off += a.nbytes
h = json.dumps(header).encode()
h += b' ' * (-len(h) % 8)
open(out, 'wb').write(struct.pack('<Q', len(h)) + h + data)
