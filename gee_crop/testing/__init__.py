"""Offline test helpers for gee-crop and for your own tests: no account, no network.

* :mod:`gee_crop.testing.fake_ee`: ``FakeEarthEngineClient``, the Earth Engine client with its real
  retry loop, answering sampling graphs from the shipped patch (injectable HTTP failures, interrupts).
* :mod:`gee_crop.testing.fake_ee_patch`: ``PatchComputePixels``, a ``computePixels`` that serves the
  patch's server-side composite tile by tile (for the map path).
* :mod:`gee_crop.testing.doctor_double`: ``DoctorDouble``, the fake client with the patch's composite behind
  ``computePixels`` and a synthetic profiler: the client the tests of ``gee-crop doctor`` connect to.
* :mod:`gee_crop.testing.ee_pixel_eval`: evaluates simple Earth Engine pixel graphs with numpy.
* :mod:`gee_crop.testing.ee_grid_eval`: evaluates the label side of sampling graphs on pixel grids,
  each operation in the projection its output is requested in (focal operations, ``stratifiedSample``),
  and the server-side classifier graphs (array images, ``Image.classify`` with a tree ensemble:
  :mod:`gee_crop.testing.ee_array_eval`).
* :mod:`gee_crop.testing.ee_value_eval`: evaluates value graphs (numbers, texts, properties) with the
  server's long / double types (``Number.format('%d')`` refuses a double).
* :mod:`gee_crop.testing.offline_ee`: ``initialize_offline()``, so ``ee`` graphs can be built without
  credentials.
* :mod:`gee_crop.testing.demo_data` and :mod:`gee_crop.testing.paths`: the shipped real data (the
  Flanders 2019 Earth Engine patch, samples drawn from it like ``gee-crop demo``; they live in
  :mod:`gee_crop.data.demo`) and where the tests' shared data lives.

No product module imports it: a user's command never runs on a test double; tests/architecture states
the rule.
"""
