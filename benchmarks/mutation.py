"""Semantic mutation check of the statistics: do the tests notice when a number a user reads is computed wrong?

    python benchmarks/mutation.py                      # every mutant (9 min on the shared 2-core machine, load 7)
    python benchmarks/mutation.py --only wilson-z-1645,bh-to-by
    python benchmarks/mutation.py --file xlalign/core/compare.py
    python benchmarks/mutation.py --list               # the table, nothing run
    python benchmarks/mutation.py --markdown           # the result as a table for benchmarks/RESULTS.md

Each mutant is one small semantic change (a snippet of a module replaced by another) of the kind a slip of the
pen makes: a 90% z in a 95% interval, Benjamini–Yekutieli for Benjamini–Hochberg, ``>`` for ``>=``, argmax
for argmin. The repository's files (``git ls-files``: tracked and untracked, not ignored) are copied once to a
temporary folder; for every mutant the copy's module is patched, only that module's tests run there
(``pytest -x``, the copy first on ``PYTHONPATH``), and the module is restored. A mutant is **killed** when a
test fails, **survived** when every test passes. The tests are first run on the unmutated copy: a failing
baseline makes every result meaningless and stops the check.

Exit status 1 when a mutant survives that must not: one from issue 27's table (``required``), or any survivor
whose harmlessness is not argued in the table (``harmless``). A survivor with a ``harmless`` reason is
expected: it changes nothing a user reads (a speed constant, an unreachable branch).

Adding a mutant: one :class:`Mutant` row in :data:`MUTANTS`: the file, a snippet that occurs exactly once in
it, its replacement, the test files (pytest arguments) that should notice, and what it breaks.
``tests/test_mutation_table.py`` checks that every row still applies to the current sources.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """One semantic change: ``original`` (exactly once in ``file``) becomes ``replacement``."""

    id: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    breaks: str
    required: bool = False  # from issue 27's table: must be killed
    harmless: str = ""  # for an expected survivor: why it changes nothing a user reads


METRICS = "xlalign/core/metrics.py"
COMPARE = "xlalign/core/compare.py"
RANKING = "xlalign/core/ranking.py"
LSAR = "xlalign/align/lsar.py"
VERDICT = "xlalign/core/verdict.py"
PREFERENCE = "xlalign/core/preference.py"

METRICS_TESTS = ("tests/test_metrics.py", "tests/test_properties.py", "-k",
                 "not squad and not long and not xquad and not huge")
COMPARE_TESTS = ("tests/test_compare.py", "tests/test_align.py", "-k", "compare or paired_test or one_changed_query")
RANKING_TESTS = ("tests/test_ranking.py", "tests/test_metrics.py", "-k", "not wilson and not displaced")
LSAR_TESTS = ("tests/test_lsar_export.py", "-k", "lsar and not linear_model")
VERDICT_TESTS = ("tests/test_verdict.py", "-m", "not slow")

MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ core/metrics.py
    Mutant("wilson-z-1645", METRICS, "z: float = 1.959964", "z: float = 1.644854", METRICS_TESTS,
           "every Wilson interval is a 90% one, labelled 95%", required=True),
    Mutant("wilson-wald-centre", METRICS, "centre = (p + z * z / (2 * n)) / denom", "centre = p", METRICS_TESTS,
           "intervals centred on the raw rate (Wald-like), too narrow towards 0% and 100%"),
    Mutant("wilson-n0", METRICS, "return 0.0, 100.0", "return 0.0, 0.0", METRICS_TESTS,
           "no queries reads as a certain 0%"),
    Mutant("wilson-no-upper-clip", METRICS, "min(1.0, centre + half)", "(centre + half)", METRICS_TESTS,
           "an upper bound above 100% where rounding overshoots (20 of 20: 100.00000000000002%)"),
    Mutant("wilson-no-lower-clip", METRICS, "max(0.0, centre - half)", "(centre - half)", METRICS_TESTS,
           "a lower bound below 0% where rounding undershoots (0 of 7: −3e-15%)"),
    Mutant("displaced-strict", METRICS, "100.0 * (a >= k)", "100.0 * (a > k)", METRICS_TESTS,
           "a gold pushed to rank 11 by exactly 10 documents is not counted as displaced"),
    Mutant("max-r-best-gold", METRICS, "_check(ranks).max(axis=1).astype", "_check(ranks).min(axis=1).astype",
           METRICS_TESTS, "Max@R reads the best gold instead of the worst"),
    Mutant("norm-gold-term", METRICS, "(np.log2(pool_size) - np.log2(n_gold))",
           "(np.log2(pool_size) - np.log2(n_gold + 1))", METRICS_TESTS, "Max@R_norm's denominator off by one gold"),
    Mutant("complete-strict", METRICS, "(_check(ranks) <= k).all(axis=1)", "(_check(ranks) < k).all(axis=1)",
           METRICS_TESTS, "Complete@K misses a gold at exactly rank K"),
    Mutant("complete-any", METRICS, "(_check(ranks) <= k).all(axis=1)", "(_check(ranks) <= k).any(axis=1)",
           METRICS_TESTS, "Complete@K counts one gold in the top K as complete"),
    Mutant("recall-strict", METRICS, "(_check(ranks) <= k).mean(axis=1)", "(_check(ranks) < k).mean(axis=1)",
           METRICS_TESTS, "Recall@k misses a gold at exactly rank k"),
    Mutant("ndcg-ideal-every-gold", METRICS, "min(r.shape[1], k)", "r.shape[1]", METRICS_TESTS,
           "the ideal DCG counts golds beyond the cutoff"),
    Mutant("ndcg-discount", METRICS, "np.log2(r.astype(np.float64) + 1.0)", "np.log2(r.astype(np.float64) + 2.0)",
           METRICS_TESTS, "the rank discount shifted by one position"),
    Mutant("mrr-worst-gold", METRICS, "1.0 / _check(ranks).min(axis=1)", "1.0 / _check(ranks).max(axis=1)",
           METRICS_TESTS, "MRR reads the worst gold"),
    Mutant("map-unsorted", METRICS, "r = np.sort(_check(ranks), axis=1)", "r = _check(ranks)", METRICS_TESTS,
           "average precision pairs the i-th hit with an unsorted rank"),
    Mutant("preference-tie-lost", METRICS, "+ 0.5 * (a == b)", "+ 0.0 * (a == b)", METRICS_TESTS,
           "a tie counts as the other language's win"),
    Mutant("intrusion-tie-wins", METRICS, "100.0 * (a > b)", "100.0 * (a >= b)", METRICS_TESTS,
           "an intruder tied with the gold counts as an intrusion (the tie policy favours the gold)"),
    Mutant("ranks-zero-based-accepted", METRICS, "r.min() < 1", "r.min() < 0", METRICS_TESTS,
           "0-based ranks accepted silently"),
    # ------------------------------------------------------------------ core/compare.py
    Mutant("bh-to-by", COMPARE, 'method="bh"', 'method="by"', COMPARE_TESTS,
           "Benjamini–Yekutieli q-values where the README promises Benjamini–Hochberg", required=True),
    Mutant("q-equals-p", COMPARE, 'adjusted_p(out["p_value"].to_numpy())', 'out["p_value"].to_numpy()',
           COMPARE_TESTS, "no multiple-testing correction"),
    Mutant("pairing-check-removed", COMPARE, "if len(paired) != len(sel_b) or len(paired) != len(sel_a):",
           "if False:", COMPARE_TESTS, "before and after on different queries compared silently", required=True),
    Mutant("pairing-check-one-side", COMPARE, "if len(paired) != len(sel_b) or len(paired) != len(sel_a):",
           "if len(paired) != len(sel_a):", COMPARE_TESTS, "queries missing on the after side go unnoticed"),
    Mutant("bootstrap-unpaired", COMPARE, "paired=True", "paired=False", COMPARE_TESTS,
           "before and after resampled independently: far wider intervals"),
    Mutant("bootstrap-basic", COMPARE, 'method="percentile"', 'method="basic"', COMPARE_TESTS,
           "basic (reflected) intervals where the README promises percentile ones"),
    Mutant("bootstrap-90", COMPARE, 'n_resamples=n_boot, method="percentile"',
           'n_resamples=n_boot, confidence_level=0.9, method="percentile"', COMPARE_TESTS,
           "90% intervals labelled 95%"),
    Mutant("permutation-one-sided", COMPARE, 'alternative="two-sided"', 'alternative="greater"', COMPARE_TESTS,
           "one-sided p-values: a loss is never significant"),
    Mutant("permutation-pairings", COMPARE, 'permutation_type="samples"', 'permutation_type="pairings"',
           COMPARE_TESTS, "the null shuffles which query pairs with which, not before/after within a query"),
    Mutant("delta-sign", COMPARE, "observed = float(f(a, axis=-1) - f(b, axis=-1))",
           "observed = float(f(b, axis=-1) - f(a, axis=-1))", COMPARE_TESTS, "the change reported as before − after"),
    Mutant("norm-of-mean-per-query", COMPARE, "M.normalise_max_r(np.asarray(np.mean(x, axis=axis)), pool_size, n_gold)",
           "np.mean(M.normalise_max_r(np.asarray(x), pool_size, n_gold), axis=axis)", COMPARE_TESTS,
           "Max@R_norm of the mean computed as the mean of per-query norms"),
    Mutant("norm-gold-count", COMPARE, ".notna().sum(axis=1).iloc[0])", ".notna().sum(axis=1).iloc[0]) + 1",
           COMPARE_TESTS, "Max@R_norm of the mean normalised with one gold too many"),
    Mutant("identical-sides-significant", COMPARE, '"ci_high": observed, "p_value": 1.0}',
           '"ci_high": observed, "p_value": 0.0}', COMPARE_TESTS, "an unchanged metric reported as significant"),
    Mutant("null-ties-not-rounded", COMPARE, "np.round(f(y, axis=axis) - f(x, axis=axis), 9)",
           "(f(y, axis=axis) - f(x, axis=axis))", COMPARE_TESTS,
           "an exact tie of the null counts as 'less extreme' when float sums differ in the last bit"),
    # ------------------------------------------------------------------ core/ranking.py (the numba kernel)
    Mutant("rank-ties-count-against-gold", RANKING, "a = np.int32(a + np.int32(sv[x] > g))",
           "a = np.int32(a + np.int32(sv[x] >= g))", RANKING_TESTS,
           "a document tied with a gold outranks it (the tie policy puts golds first)"),
    Mutant("rank-weighted-ties", RANKING, "a = np.int32(a + wv[x] * np.int32(sv[x] > g))",
           "a = np.int32(a + wv[x] * np.int32(sv[x] >= g))", RANKING_TESTS,
           "the same, on pools where a text carries several documents"),
    Mutant("rank-wide-ties", RANKING, "a64 += wv[x] * (sv[x] > g)", "a64 += wv[x] * (sv[x] >= g)", RANKING_TESTS,
           "the same, on the int64 path for very heavy pools"),
    Mutant("rank-tied-golds-share", RANKING, "n_above += 1  # tied golds", "n_above += 0  # tied golds",
           RANKING_TESTS, "tied golds share one position (Max@R < |R| possible)"),
    Mutant("rank-zero-based", RANKING, "ranks[row, j] = 1 + n_above", "ranks[row, j] = n_above", RANKING_TESTS,
           "0-based ranks"),
    Mutant("rank-removed-copies-kept", RANKING, "n_above -= rem_n[i]  # the removed copies",
           "n_above -= 0  # the removed copies", RANKING_TESTS,
           "a query's own removed passage copies still count above its golds"),
    Mutant("rank-removed-unit-ties", RANKING, "if r >= 0 and s_rem > gs[j]:", "if r >= 0 and s_rem >= gs[j]:",
           RANKING_TESTS, "a partly removed text tied with a gold outranks it"),
    Mutant("rank-gold-copies-once", RANKING, "n_above += weight[gold[i, h]]", "n_above += 1", RANKING_TESTS,
           "a better gold's other copies do not count above a worse gold"),
    Mutant("rank-per-language-above", RANKING, "cntl[j, chunk_single[k]] += cnt[j] - before_j[j]",
           "cntl[j, chunk_single[k]] += 0", RANKING_TESTS,
           "the per-language counts behind displaced_by_* stay 0 on one-language stretches"),
    Mutant("rank-best-unit-recheck", RANKING, "if top <= blk[c]:  # key order", "if top < blk[c]:  # key order",
           RANKING_TESTS, "a stretch whose best equals the running best is searched again",
           harmless="equivalent: the update that follows (v > bl[c]) still keeps the earlier unit; the skip only "
                    "saves a pass over the stretch"),
    Mutant("rank-best-unit-last-in-stretch", RANKING, "off = min(off, np.int32(x) if kx == top else n32)",
           "off = np.int32(x) if kx == top else off", RANKING_TESTS,
           "among equal best scores in a stretch the last unit is kept, not the first (np.argmax's)"),
    Mutant("top1-near-miss", RANKING, "self.ranks.min(axis=1) == 1", "self.ranks.min(axis=1) <= 2", RANKING_TESTS,
           "a gold at rank 2 read as the top-1 document"),
    Mutant("weights-zero-accepted", RANKING, "(unit_weight < 1).any()", "(unit_weight < 0).any()", RANKING_TESTS,
           "a text carrying no document accepted"),
    Mutant("rank-chunk-size", RANKING, "_CHUNK = 1024", "_CHUNK = 256", RANKING_TESTS,
           "only the stretch length of the scan",
           harmless="a speed constant: counts are exact integers whatever the stretch length, and the int32 "
                    "bound (_NARROW_MAX_WEIGHT) follows it"),
    # ------------------------------------------------------------------ align/lsar.py: the rank choice
    Mutant("lsar-argmax", LSAR, 'int(min(candidates, key=lambda c: (round(c["multi_max_r"], 9), c["rank"]))',
           'int(max(candidates, key=lambda c: (round(c["multi_max_r"], 9), c["rank"]))', LSAR_TESTS,
           "the rank with the highest held-out Max@R is chosen", required=True),
    Mutant("lsar-ties-to-larger", LSAR, '(round(c["multi_max_r"], 9), c["rank"])',
           '(round(c["multi_max_r"], 9), -c["rank"])', LSAR_TESTS, "ties go to the larger rank"),
    Mutant("lsar-float-noise", LSAR, '(round(c["multi_max_r"], 9), c["rank"])', '(c["multi_max_r"], c["rank"])',
           LSAR_TESTS, "float noise between equal means picks a larger rank"),
    Mutant("lsar-rank-zero-chosen", LSAR, 'if c["rank"] >= 1]', 'if c["rank"] >= 0]', LSAR_TESTS,
           "'no removal' chosen as an LSAR rank"),
    Mutant("lsar-last-rank-skipped", LSAR, "for r in range(0, est.max_rank_ + 1):", "for r in range(0, est.max_rank_):",
           LSAR_TESTS, "the full rank is never tried on held-out data"),
    # ------------------------------------------------------------------ core/verdict.py, core/preference.py: the verdict
    Mutant("verdict-median-other-pair", VERDICT, 'cells.get(q, o, "median_own_above")',
           'cells.get(o, q, "median_own_above")', VERDICT_TESTS,
           "the sentence's median read from the pair's other direction", required=True),
    Mutant("verdict-borderline-ignores-impact-ci", VERDICT, "impact_borderline = _straddles(impact_ci, IMPACT_MIN)",
           "impact_borderline = False", VERDICT_TESTS,
           "a bias whose impact interval straddles 10% is not marked borderline", required=True),
    Mutant("verdict-borderline-ignores-preference-ci", VERDICT,
           "pref_borderline = e.preference_ci[0] < 50.0 + PREFERENCE_MIN if own else", "pref_borderline = False if own else",
           VERDICT_TESTS, "an own-language preference whose interval reaches below 55% is not borderline"),
    Mutant("verdict-any-preference-counts", VERDICT, "abs(preference - 50.0) >= PREFERENCE_MIN and",
           "abs(preference - 50.0) > 0 and", VERDICT_TESTS, "a 50.1% preference with a narrow interval names a bias"),
    Mutant("verdict-preference-ci-ignored", VERDICT, "and not ci[0] <= 50.0 <= ci[1]", "and True", VERDICT_TESTS,
           "a preference whose interval holds 50% counts"),
    Mutant("verdict-impact-strict", VERDICT, "if counts and impact >= IMPACT_MIN:", "if counts and impact > IMPACT_MIN:",
           VERDICT_TESTS, "an impact of exactly 10% is not noticeable"),
    Mutant("verdict-quality-at-threshold-weak", VERDICT, "if quality < QUALITY_MIN:", "if quality <= QUALITY_MIN:",
           VERDICT_TESTS, "NDCG@10 of exactly 50 is weak retrieval"),
    Mutant("verdict-pivot-pull-as-clustering", VERDICT, "return INCLINATION if pivot_queries and target_prefers_pivot",
           "return CLUSTERING if pivot_queries and target_prefers_pivot", VERDICT_TESTS,
           "the pivot's queries call a pull to the pivot clustering"),
    Mutant("verdict-target-direction-wrong", VERDICT, "prefers_pivot[q] = v.prefers == pivot",
           "prefers_pivot[q] = v.prefers == q", VERDICT_TESTS, "the pivot's verdict reads the target's direction reversed"),
    Mutant("ci-no-document-part", METRICS, "float(np.sqrt(var_rows + var_cols))", "float(np.sqrt(var_rows))",
           VERDICT_TESTS, "the preference's interval ignores that the documents are a sample too"),
    Mutant("ci-no-small-sample-factor", METRICS, "float(g / (g - 1) * (sums**2).sum()", "float(1.0 * (sums**2).sum()",
           VERDICT_TESTS, "cluster-robust variance without its G/(G − 1) factor"),
    Mutant("ci-normal-quantile", METRICS, "return float(t.ppf(0.5 + level / 2.0, df)) if df >= 1",
           "return 1.959964 if df >= 1", VERDICT_TESTS, "a normal quantile where few clusters need Student's t"),
    Mutant("preference-tie-is-a-loss", METRICS, "+ 0.5 * (d == 0)", "+ 0.0 * (d == 0)", VERDICT_TESTS,
           "a document and its identical translation: the query's language loses"),
    Mutant("preference-gold-compared", PREFERENCE, "wins[idx, g[rows]] = 0.0", "pass", VERDICT_TESTS,
           "the relevant passage counted as an irrelevant comparison"),
)


def repository_files(root: Path = ROOT) -> list[str]:
    """Tracked and untracked, not ignored files: what a checkout of the working tree holds."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         check=True, capture_output=True).stdout.decode()
    return [f for f in out.split("\0") if f and (root / f).is_file()]


def apply(source: str, mutant: Mutant) -> str:
    """``source`` with the mutant's snippet replaced; ValueError unless the snippet occurs exactly once."""
    n = source.count(mutant.original)
    if n != 1:
        raise ValueError(f"{mutant.id}: the snippet occurs {n} times in {mutant.file} (must be once): "
                         f"{mutant.original!r}")
    return source.replace(mutant.original, mutant.replacement)


def _pytest(copy: Path, args: Sequence[str], timeout: float) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'error' | 'timeout', seconds, last lines) of one pytest run in the copy."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(copy), os.environ.get("PYTHONPATH", "")]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("XLALIGN_REQUIRE_ALL", None)
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args], cwd=copy,
                              env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start, ""
    seconds = time.perf_counter() - start
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-3:])
    status = {0: "passed", 1: "failed"}.get(done.returncode, "error")
    return status, seconds, tail


def run(mutants: Sequence[Mutant], timeout: float, log: bool = True) -> list[tuple[Mutant, str, float]]:
    """(mutant, 'killed' | 'survived' | 'timeout' | 'error', seconds) for each mutant, on a fresh copy."""
    with tempfile.TemporaryDirectory(prefix="xlalign-mutants-") as tmp:
        copy = Path(tmp)
        for f in repository_files():
            (copy / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, copy / f)
        for args in dict.fromkeys(m.tests for m in mutants):
            status, seconds, tail = _pytest(copy, args, timeout)
            if log:
                print(f"baseline {' '.join(args)}: {status} ({seconds:.0f} s)", flush=True)
            if status != "passed":
                raise SystemExit(f"the unmutated tests do not pass ({' '.join(args)}): fix them first\n{tail}")
        results = []
        for m in mutants:
            path = copy / m.file
            original = path.read_text(encoding="utf-8")
            path.write_text(apply(original, m), encoding="utf-8")
            try:
                status, seconds, tail = _pytest(copy, m.tests, timeout)
            finally:
                path.write_text(original, encoding="utf-8")
            verdict = {"failed": "killed", "passed": "survived"}.get(status, status)
            results.append((m, verdict, seconds))
            if log:
                print(f"{verdict:9} {seconds:6.0f} s  {m.id}  ({m.file})", flush=True)
                if verdict == "error":
                    print("          " + tail.replace("\n", "\n          "), flush=True)
    return results


def bad_survivors(results: Sequence[tuple[Mutant, str, float]]) -> list[Mutant]:
    """Survivors that must not survive: required ones, and any without a stated reason why it is harmless."""
    return [m for m, verdict, _ in results if verdict == "survived" and (m.required or not m.harmless)]


def markdown(results: Sequence[tuple[Mutant, str, float]]) -> str:
    rows = ["| mutant | module | result | what it breaks |", "|---|---|---|---|"]
    for m, verdict, seconds in results:
        note = m.breaks + (f" — harmless: {m.harmless}" if verdict == "survived" and m.harmless else "")
        rows.append(f"| `{m.id}`{' (issue 27)' if m.required else ''} | `{m.file.removeprefix('xlalign/')}` | "
                    f"{verdict} ({seconds:.0f} s) | {note} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated mutant ids")
    ap.add_argument("--file", default="", help="only the mutants of this module (a path from the repository root)")
    ap.add_argument("--list", action="store_true", help="print the table and stop")
    ap.add_argument("--markdown", action="store_true", help="also print the results as a Markdown table")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per pytest run (a timeout counts as killed)")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if (not args.file or m.file == args.file)]
    if args.only:
        wanted = [x.strip() for x in args.only.split(",") if x.strip()]
        unknown = sorted(set(wanted) - {m.id for m in MUTANTS})
        if unknown:
            ap.error(f"unknown mutant(s): {', '.join(unknown)}")
        chosen = [m for m in chosen if m.id in wanted]
    if not chosen:
        ap.error("no mutant selected")
    if args.list:
        for m in chosen:
            print(f"{m.id:32} {m.file:26} {'required ' if m.required else ''}{m.breaks}")
        return 0
    import machine  # benchmarks/machine.py: the figures' machine line

    print(f"machine: {machine.line()}", flush=True)
    started = time.perf_counter()
    results = run(chosen, args.timeout)
    killed = sum(verdict in ("killed", "timeout") for _, verdict, _ in results)
    errors = [m.id for m, verdict, _ in results if verdict == "error"]
    print(f"\nkilled {killed} of {len(results)} mutants ({100 * killed / len(results):.0f}%) in "
          f"{(time.perf_counter() - started) / 60:.0f} min; {machine.line()}"
          + (f"; {len(errors)} ended in a pytest error (collection or crash): {', '.join(errors)}" if errors else ""))
    for m, verdict, _ in results:
        if verdict == "survived":
            print(f"survived: {m.id}: {m.breaks}" + (f" — harmless: {m.harmless}" if m.harmless else ""))
    if args.markdown:
        print("\n" + markdown(results))
    bad = bad_survivors(results)
    if bad:
        print("\nmust not survive: " + ", ".join(m.id for m in bad), file=sys.stderr)
    return 1 if bad or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
