"""The README's `study` tables from a study's results.json: test MSE per arm (mean ± sd over seeds) and the
paired ratios with their 95 % intervals. Usage: python3 notes/study_table.py runs/study/results.json"""
import json
import statistics
import sys

r = json.load(open(sys.argv[1]))
arms = ["jepa", "jepa-init", "videomae", "videomae-init", "supervised"]


def cell(system, arm, probe):
    xs = [row["test_mse"] for row in r["rows"] if row["system"] == system and row["method"] == arm and row["probe"] == probe]
    if not xs:
        return "—"
    return f"{statistics.mean(xs):.3f}" + (f" ± {statistics.stdev(xs):.3f}" if len(xs) > 1 else "")


print(f"Seeds {r['seeds']}; test MSE, mean ± sd over seeds (attentive / ridge).\n")
print("| system | " + " | ".join(arms) + " | stats (ridge) | floor |")
print("|---" * (len(arms) + 3) + "|")
for s in r["systems"]:
    floor = next(row["floor_test"] for row in r["rows"] if row["system"] == s)
    cells = [f"{cell(s, a, 'attentive')} / {cell(s, a, 'linear')}" for a in arms]
    print(f"| {s} | " + " | ".join(cells) + f" | {cell(s, 'stats', 'linear')} | {floor:.3f} |")

print("\nPaired test-MSE ratios [95 % CI] (hierarchical bootstrap over seeds, then the 18 held-out parameter points):\n")
print("| system | probe | JEPA / own init | VideoMAE / own init | JEPA / VideoMAE |")
print("|---|---|---|---|---|")
for s in r["systems"]:
    for probe in ["attentive", "linear", "knn"]:
        def ratio(a, b):
            c = next((c for c in r["comparisons"] if c["system"] == s and c["probe"] == probe and c["a"] == a and c["b"] == b), None)
            if c is None:
                return "—"
            lo, hi = c["ci95"]
            bold = "**" if hi < 1 or lo > 1 else ""
            return f"{bold}{c['ratio']:.2f} [{lo:.2f}, {hi:.2f}]{bold}"
        print(f"| {s} | {'ridge' if probe == 'linear' else probe} | {ratio('jepa', 'jepa-init')} | {ratio('videomae', 'videomae-init')} | {ratio('jepa', 'videomae')} |")
