"""The glyph's geometry, defined once: its size in pixels and the pen that draws strokes into it.

No imports here, so the app can use these at startup (before numpy, PIL or torch are loaded).
"""

GLYPH_SIZE = 105  # pixels a side: Omniglot's images, the glyph every model is given

# The side of the square stroke coordinates are given in: Omniglot's stroke files, and the app's canvas.
OMNIGLOT_STROKE_AREA = 105.0

# Radius of the round pen strokes are drawn with, in glyph pixels; calibrated against Omniglot's stroke/image pairs
# (engine/glyph/pen.py says how; benchmarks/stroke_renderer_fit.py does it).
PEN_RADIUS = 2.475
