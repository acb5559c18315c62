"""samis — Segment Anything on industrial surface defects: reproduce, score and browse the study."""

__version__ = "0.1.0"
