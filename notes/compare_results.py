"""Compare two `physrep reproduce` results.json: rows keyed by (system, method, seed, probe); comparisons
keyed by (system, probe, a, b). Prints which rows differ and how many numbers (timing fields skipped)."""
import json, sys
TIMING = {"stages", "total_wall_s", "figures", "wall_s", "peak_rss_mb"}
def numbers(x, path=()):
    if isinstance(x, dict):
        for k, v in x.items():
            if k in TIMING: continue
            yield from numbers(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x): yield from numbers(v, path + (i,))
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        yield path, x
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def keyed(d, kind):
    if kind == "rows": return {(r["system"], r["method"], r["seed"], r["probe"]): r for r in d["rows"]}
    return {(c.get("system"), c.get("probe"), c.get("a", c.get("arm_a")), c.get("b", c.get("arm_b"))): c for c in d["comparisons"]}
total = diff = 0
for kind in ["rows", "comparisons"]:
    ka, kb = keyed(a, kind), keyed(b, kind)
    moved = []
    for k in sorted(set(ka) | set(kb), key=str):
        if k not in ka or k not in kb: moved.append((k, "missing in one")); continue
        na, nb = dict(numbers(ka[k])), dict(numbers(kb[k]))
        total += len(na)
        d = [p for p in set(na) | set(nb) if na.get(p) != nb.get(p)]
        diff += len(d)
        if d: moved.append((k, len(d)))
    print(f"{kind}: {len(ka)} vs {len(kb)}; {len(moved)} differ")
    for k, n in moved: print("   ", k, n)
print(f"numbers compared: {total}, different: {diff}")
