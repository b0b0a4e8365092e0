"""A fused mesh as three.js reads it: the GLB that ``save_fusion`` writes, parsed in headless
Chromium by three.js's own GLTFLoader (the copy vendored with the viewer), stands +Y up with a
vertex-colour, non-metallic material (glTF's default material is fully metallic and draws black), and
its linear vertex colours come back to the capture's sRGB colours on screen."""

from __future__ import annotations

import mimetypes
from pathlib import Path

import numpy as np
from fused_room import COLOUR, floor_and_post
from viewer_browser import new_page, skip_without_chromium

from lerf3d.fusion import save_fusion

skip_without_chromium()

VENDOR = Path(__file__).resolve().parents[2] / "viewer" / "static" / "vendor" / "three"
ORIGIN = "http://lerf3d.invalid"
"""Pages and files are served by the test's route handler: nothing leaves the browser."""

PAGE = """<!doctype html><html><head>
<script type="importmap">{"imports": {"three": "/vendor/three/three.module.js"}}</script>
<script type="module">
import * as THREE from 'three';
import { GLTFLoader } from '/vendor/three/loaders/GLTFLoader.js';
const data = await (await fetch('/mesh.glb')).arrayBuffer();
new GLTFLoader().parse(data, '', (gltf) => {
  gltf.scene.updateMatrixWorld(true);
  const box = new THREE.Box3().setFromObject(gltf.scene);
  const meshes = [];
  gltf.scene.traverse((o) => { if (o.isMesh) meshes.push(o); });
  const m = meshes[0].material;
  const colour = meshes[0].geometry.getAttribute('color');
  // what three.js draws a white, fully rough surface lit evenly as: its linear vertex colour,
  // encoded to sRGB for the screen by three.js's own colour management
  const shown = colour ? new THREE.Color().setRGB(colour.getX(0), colour.getY(0), colour.getZ(0),
                                                  THREE.LinearSRGBColorSpace) : null;
  const srgb = shown ? shown.getRGB({r: 0, g: 0, b: 0}, THREE.SRGBColorSpace) : null;
  window.result = {min: box.min.toArray(), max: box.max.toArray(), meshes: meshes.length, type: m.type,
                   metalness: m.metalness, roughness: m.roughness, vertexColors: m.vertexColors,
                   colour: colour ? [colour.getX(0), colour.getY(0), colour.getZ(0)] : null,
                   srgb: srgb ? [srgb.r, srgb.g, srgb.b] : null};
}, (error) => { window.result = {error: String(error)}; });
</script></head><body></body></html>"""


def test_three_js_loads_the_fused_mesh_y_up_with_its_colours(browser, tmp_path):
    glb = save_fusion(floor_and_post(), tmp_path).mesh_glb

    def serve(route):
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/":
            return route.fulfill(status=200, content_type="text/html", body=PAGE)
        if path == "/mesh.glb":
            return route.fulfill(status=200, content_type="model/gltf-binary", body=glb.read_bytes())
        file = VENDOR / path.removeprefix("/vendor/three/")
        if path.startswith("/vendor/three/") and file.is_file():
            return route.fulfill(status=200, content_type=mimetypes.guess_type(file.name)[0] or "text/javascript",
                                 body=file.read_bytes())
        return route.fulfill(status=404, body=f"no {path}")

    with new_page(browser) as page:
        page.route(f"{ORIGIN}/**", serve)
        page.goto(f"{ORIGIN}/")
        page.wait_for_function("() => window.result !== undefined")
        result = page.evaluate("() => window.result")
    assert "error" not in result, result
    # three.js is +Y up: the post's 1.5 m is its height, the floor spans x and -z
    np.testing.assert_allclose(result["min"], [0.0, 0.0, -1.0], atol=1e-5)
    np.testing.assert_allclose(result["max"], [2.0, 1.5, 0.0], atol=1e-5)
    assert result["meshes"] == 1 and result["type"] == "MeshStandardMaterial"
    assert result["metalness"] == 0.0 and result["roughness"] == 1.0 and result["vertexColors"] is True
    # COLOR_0 is linear: three.js reads the darker linear values and its sRGB output gives the
    # capture's colour back (within one 8-bit step)
    assert all(linear < srgb - 0.05 for linear, srgb in zip(result["colour"], COLOUR, strict=True))
    np.testing.assert_allclose(result["srgb"], COLOUR, atol=1 / 255)
