"""Offline test helpers for gee-crop and for your own tests: no account, no network.

* :mod:`gee_crop.testing.fake_ee`: ``FakeEarthEngineClient``, the Earth Engine client with its real
  retry loop, answering sampling graphs from the shipped patch (injectable HTTP failures, interrupts).
* :mod:`gee_crop.testing.fake_ee_patch`: ``PatchComputePixels``, a ``computePixels`` that serves the
  patch's server-side composite tile by tile (for the map path).
* :mod:`gee_crop.testing.ee_pixel_eval`: evaluates simple Earth Engine pixel graphs with numpy.
* :mod:`gee_crop.testing.offline_ee`: ``initialize_offline()``, so ``ee`` graphs can be built without
  credentials.
* :mod:`gee_crop.testing.demo_data` and :mod:`gee_crop.testing.paths`: the shipped real data (the
  Flanders 2019 Earth Engine patch, samples drawn from it like ``gee-crop demo``) and where it lives.

Nothing in the package below this floor imports it (tests/architecture states the floor order).
"""
