"""esmr_core: the library behind the ESMR app (never imports gradio)."""
__version__ = "0.1.0"
