"""Pictures: insight plots (plots), Grad-CAM maps (cam), colours and vis params (styles; the class
colours are gee_crop.classes'), geemap layers and offline overlays (geemap_layers)."""
