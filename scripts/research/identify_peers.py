"""Peers of siamedge's GalleryIndex on the same vectors: numpy brute force and faiss IndexFlatL2.

Reads what `cargo run -p siamedge-edge --example bench_identify -- --out DIR` wrote (gallery.i8,
probes.i8, ours.json, ours_<n>.top10), times each peer as people run it (default settings, float32
view of the int8 values, same thread count, same run), prints one table with ratios against the
peer measured here, and counts top-10 ids that differ from ours (ties broken by id on both sides).
Usage: identify_peers.py DIR
"""
import json, os, sys, time
import numpy as np
import faiss
from threadpoolctl import threadpool_info, threadpool_limits

d = sys.argv[1]
meta = json.load(open(os.path.join(d, "ours.json")))
dim, k, nthreads = meta["dim"], meta["k"], meta["threads"]
gallery = np.fromfile(os.path.join(d, "gallery.i8"), dtype=np.int8).reshape(-1, dim)
probes = np.fromfile(os.path.join(d, "probes.i8"), dtype=np.int8).reshape(-1, dim).astype(np.float32)
print("numpy", np.__version__, "BLAS:", [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()])
print("faiss", faiss.__version__, "simd:", faiss.get_compile_options())


def exact_top(dist, ids):
    """top-k of one row of distances, ties by id (argpartition, then a stable sort on the candidates)."""
    kk = min(k, len(dist))
    part = np.argpartition(dist, kk - 1)[:kk]
    cut = dist[part].max()
    cand = np.flatnonzero(dist <= cut)  # every tie at the boundary, so ids break them
    order = np.lexsort((ids[cand], dist[cand]))
    return ids[cand[order[:kk]]]


def median_ms(fn):
    lat = []
    t0 = time.perf_counter()
    for q in probes:
        t = time.perf_counter(); fn(q[None, :]); lat.append(time.perf_counter() - t)
    return float(np.median(lat)) * 1e3, len(probes) / (time.perf_counter() - t0)


rows = []
for r in meta["results"]:
    n = r["n"]
    xb = np.ascontiguousarray(gallery[:n].astype(np.float32))
    ids = np.arange(n, dtype=np.int64)
    ours = np.fromfile(os.path.join(d, f"ours_{n}.top10"), dtype="<u4").reshape(len(probes), -1)
    out = {"n": n}
    for threads in (1, nthreads):
        with threadpool_limits(threads):
            norms = (xb * xb).sum(1)
            def np_search(q):
                dist = norms - 2.0 * (q @ xb.T) + (q * q).sum(1)[:, None]
                return [exact_top(row, ids) for row in dist]
            lat, pps = median_ms(np_search)
            t0 = time.perf_counter()
            np_top = [t for s in range(0, len(probes), 16) for t in np_search(probes[s:s + 16])]
            bpps = len(probes) / (time.perf_counter() - t0)
            out[f"np{threads}"] = (lat, bpps)
        faiss.omp_set_num_threads(threads)
        index = faiss.IndexFlatL2(dim)
        index.add(xb)
        lat, pps = median_ms(lambda q: index.search(q, k))
        t0 = time.perf_counter()
        D, I = index.search(probes, k)
        bpps = len(probes) / (time.perf_counter() - t0)
        out[f"fa{threads}"] = (lat, bpps)
        if threads == 1:
            fa_top = []
            for dd, ii in zip(D, I):  # ties by id, as ours
                o = np.lexsort((ii, dd)); fa_top.append(ii[o])
            out["diff_np"] = int(sum((np.asarray(a) != b).sum() for a, b in zip(np_top, ours)))
            out["diff_fa"] = int(sum((np.asarray(a) != b).sum() for a, b in zip(fa_top, ours)))
    rows.append((r, out))

print(f"\nexact top-{k}, dim {dim}, {len(probes)} probes; latency = median ms of one probe per call; "
      f"batch = probes/s with all probes in one call (numpy: 16 per GEMM); ratio = peer time / ours (> 1: we are faster)")
hdr = "threads      n  B/tmpl | ours ms  faiss ms  numpy ms  x faiss  x numpy | ours b/s faiss b/s numpy b/s  x faiss  x numpy | ids != faiss, numpy"
print(hdr)
for r, o in rows:
    for t, lat, b in ((1, r["lat1_ms"], r["batch1_pps"]), (nthreads, r["latn_ms"], r["batchn_pps"])):
        fl, fb = o[f"fa{t}"]; nl, nb = o[f"np{t}"]
        print(f"{t:>7} {r['n']:>7} {r['bytes_per_template']:7.1f} | {lat:7.3f} {fl:9.3f} {nl:9.3f} {fl/lat:8.2f} {nl/lat:8.2f} |"
              f" {b:8.0f} {fb:9.0f} {nb:9.0f} {b/fb:8.2f} {b/nb:8.2f} | {o['diff_fa']} {o['diff_np']}")
