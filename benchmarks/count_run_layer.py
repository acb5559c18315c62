"""Count the run layer's lines of code (no blank lines, comments or docstrings), at a commit or in the tree.

    python benchmarks/count_run_layer.py [COMMIT]

The run layer: the per-image jobs (evaluation, image level, baselines, SAM masks, selection over a dataset),
the runner and its stores, the engines and the progress/report module. Issue 21 asks it to shrink by 30 %.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize

# The skeleton issue 21 names (checks methods, refuses missing maps, plans cache hits by stat and hash, sizes
# chunks, picks local or Ray, saves) and the helpers it calls, per module; None: the whole module.
BEFORE = {
    "samis/evaluation.py": {"_file_hash", "_stat_key", "_content_keys", "_DamagedCache", "_check_layout", "_load_npz",
                            "_save_npz", "_MethodCache", "_ground_truth_keys", "_read_image_group",
                            "score_read_group", "_score_group", "scoring_worker", "_run_groups_on_ray", "_chunks",
                            "default_workers", "_run_groups", "evaluate", "cached_image_scores"},
    "samis/image_level.py": {"_read_gt_facts", "ground_truth_facts", "cache_path", "_read_job", "score_read_job",
                             "_score_jobs", "image_level_worker", "_score_on_ray", "evaluate_image_level"},
    "samis/baselines/run.py": {"_provenance", "_reusable", "baseline_map", "_compute_one", "baseline_worker",
                               "_compute_on_ray", "_compute_many", "default_workers", "compute_baseline"},
    "samis/sam/run.py": {"cache_key", "_matches", "_remove_stale_temp_files", "_stored_embeddings",
                         "_embedding_callables", "_embedding_store", "mask_file_bytes", "sam_worker",
                         "_local_mask_files", "run_sam_over_dataset", "_ray_mask_files", "cached_stems"},
    "samis/sam/selection.py": {"_read_gt", "_fit_masks", "_load", "_gray_at", "select_over_dataset"},
    "samis/runs.py": {"map_jobs"},
    "samis/engines/ray_engine.py": {"_Worker", "run_on_actors", "_dispatch"},
}
AFTER = {
    "samis/runner.py": None,
    # all of it: RowCache holds the ragged rows of a sixth job (pixel-level metrics) too, and RaggedRowCache
    # is a RowCache with ragged=True
    "samis/result_cache.py": None,
    "samis/evaluation.py": {"_ground_truth", "read_pair", "scoring_worker", "method_cache", "checked_methods",
                            "maps_of_split", "split_samples", "evaluate", "_evaluate_once", "cached_image_scores"},
    "samis/image_level.py": {"_read_gt_facts", "ground_truth_facts", "cache_path", "read_map", "image_level_worker",
                             "_image_level_once",
                             "evaluate_image_level"},
    "samis/baselines/run.py": {"_provenance", "_reusable", "baseline_map", "read_image_and_size", "baseline_worker",
                               "_BaselineMaps", "compute_baseline"},
    "samis/sam/run.py": {"cache_key", "_embedding_callables", "mask_file_bytes", "sam_worker",
                         "read_sam_input", "_MaskFiles", "_key_of", "SamRun", "run_sam_over_dataset"},
    "samis/sam/select_run.py": {"_read_gt", "read_selection_input", "selection_worker", "_SelectionMaps",
                                "select_over_dataset"},
    "samis/sam/selection_search.py": {"fit_masks", "read_cached_masks", "gray_at", "selection_input"},
    "samis/engines/ray_engine.py": {"_Worker", "run_on_actors", "_dispatch"},
}


def code_lines(source: str, only: set[str] | None = None) -> int:
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
                    and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    wanted = None
    if isinstance(only, tuple):  # ("all but", names): every line except those top-level definitions
        skipped = set()
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in only[1]:
                skipped.update(range(node.lineno - len(node.decorator_list), node.end_lineno + 1))
        wanted = set(range(1, len(source.splitlines()) + 1)) - skipped
    elif only is not None:
        wanted = set()
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name in only:
                wanted.update(range(node.lineno - len(node.decorator_list), node.end_lineno + 1))
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                          tokenize.ENDMARKER):
            continue
        lines.update(range(token.start[0], token.end[0] + 1))
    lines -= docstrings
    return len(lines & wanted) if wanted is not None else len(lines)


def main() -> None:
    commit = sys.argv[1] if len(sys.argv) > 1 else None
    files = BEFORE if commit else AFTER
    total = 0
    for path, names in files.items():
        source = (subprocess.run(["git", "show", f"{commit}:{path}"], capture_output=True, text=True, check=True).stdout
                  if commit else open(path).read())
        count = code_lines(source, names)
        total += count
        print(f"{path:32} {count:5d}")
    print(f"{'total':32} {total:5d}")


if __name__ == "__main__":
    main()
