"""Prompts as a protocol (issue 24): simulated clicks to a good mask (NoC), jittered boxes, boxes from another
method's maps (no ground truth).

- :mod:`samis.prompts.clicks` — the click simulator and the NoC / NoF / mIoU@k results (numpy + scipy only);
- :mod:`samis.prompts.adapters` — one interactive predictor per model family (``embed`` once, ``predict`` per click);
- :mod:`samis.prompts.click_run` — the clicks of a dataset as a runner task (cached, resumable, local or Ray);
- :mod:`samis.prompts.jitter` — ground-truth boxes with each side moved at random (seeded);
- :mod:`samis.prompts.source` — boxes of the regions of another method's stored maps;
- :mod:`samis.prompts.box_run` — box-prompted maps written to the prediction store.
"""
