"""Writes `sim/assets/franka_panda`: pybullet_data's Panda with lighter visual meshes.

PyBullet's TinyRenderer spends ~34 ms of a 58 ms 320×240 frame on the Panda's ~100k visual
triangles whatever the image size (a 32×24 frame still takes 34 ms), and in the ROS graph that
render lies between a finished skill and the planner's next decision. This tool reduces each
visual mesh's large material groups to `--keep` of their triangles with quadric decimation
(`fast-simplification`), group by group and within a group colour by colour (the colour its texture
coordinates show in the palette texture), so every part keeps its colours; a decimated part's
vertices all take its texel, and area-weighted normals. Parts of up to `SMALL_GROUP`
triangles are kept whole. The URDF, the collision meshes,
the materials and the texture are copied unchanged: physics is the same, only drawing is cheaper.

Run once (needs `pip install fast-simplification`); the result is committed:
    python -m sim.simplify_meshes
"""

from __future__ import annotations

import argparse
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "assets" / "franka_panda"
# Material groups up to this many triangles are kept whole: they are the small dark details
# (finger pads, the hand's stripe) that decimation would thin out, and cost little to draw.
SMALL_GROUP = 2000


def read_obj(path: Path) -> tuple[str, dict[str, list], np.ndarray, np.ndarray]:
    """(mtllib line, material → triangles as [(v, vt), ×3], positions (V, 3), uvs (T, 2))."""
    positions, uvs, groups = [], [], defaultdict(list)
    mtllib, material = "", None
    for line in path.read_text().splitlines():
        head, _, rest = line.partition(" ")
        if head == "mtllib":
            mtllib = line
        elif head == "v":
            positions.append([float(x) for x in rest.split()[:3]])
        elif head == "vt":
            uvs.append([float(x) for x in rest.split()[:2]])
        elif head == "usemtl":
            material = rest.strip()
        elif head == "f":
            corners = []
            for token in rest.split():
                v, vt, *_ = (token + "//").split("/")
                corners.append((int(v) - 1, int(vt) - 1 if vt else -1))
            for i in range(1, len(corners) - 1):  # fan-triangulate polygons
                groups[material].append([corners[0], corners[i], corners[i + 1]])
    return mtllib, groups, np.array(positions), np.array(uvs) if uvs else np.zeros((0, 2))


def vertex_normals(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (points[faces[:, i]] for i in range(3))
    face_normals = np.cross(b - a, c - a)  # length ∝ area: area-weighted
    normals = np.zeros_like(points)
    for i in range(3):
        np.add.at(normals, faces[:, i], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.where(length > 0, length, 1.0)


def colour_groups(groups: dict[str, list], uvs: np.ndarray, texture: np.ndarray
                  ) -> dict[tuple[str, tuple], np.ndarray]:
    """Triangles (F, 3, 2) by (material, colour their texture coordinates show): a material
    group samples several colours of the palette texture (the hand's dark stripe is one)."""
    height, width = texture.shape[:2]
    split: dict[tuple[str, tuple], list] = defaultdict(list)
    for material, triangles in groups.items():
        corners = np.array(triangles)
        centre = uvs[corners[:, :, 1]].mean(axis=1) if len(uvs) else np.zeros((len(corners), 2))
        x = np.clip((centre[:, 0] % 1.0) * width, 0, width - 1).astype(int)
        y = np.clip((1.0 - centre[:, 1] % 1.0) * height, 0, height - 1).astype(int)
        colours = texture[y, x] // 16  # colours that look the same are one group
        for colour in np.unique(colours, axis=0):
            split[(material, tuple(colour))].append(corners[(colours == colour).all(axis=1)])
    return {key: np.concatenate(parts) for key, parts in split.items()}


def simplify(path: Path, out: Path, keep: float, texture: np.ndarray) -> tuple[int, int]:
    """Writes the decimated `path` to `out`; returns (triangles before, after)."""
    import fast_simplification

    mtllib, groups, positions, uvs = read_obj(path)
    lines = [f"# {path.name} from pybullet_data, large single-colour parts decimated to "
             f"{keep:.0%} (python -m sim.simplify_meshes)", mtllib]
    offset, before, after = 0, 0, 0
    for (material, _), corners in colour_groups(groups, uvs, texture).items():
        used, local = np.unique(corners[:, :, 0], return_inverse=True)
        points, faces = positions[used], local.reshape(-1, 3)
        uv_of = np.zeros((len(used), 2))
        if len(uvs):
            uv_of[local.ravel()] = uvs[corners[:, :, 1].ravel()]
        before += len(faces)
        if len(faces) > SMALL_GROUP:  # one colour: every new vertex gets the part's texel
            points, faces = fast_simplification.simplify(
                points.astype(np.float32), faces.astype(np.int32), target_reduction=1 - keep)
            points, faces = points.astype(float), np.asarray(faces)
            uv_of = np.repeat(np.median(uv_of, axis=0)[None], len(points), axis=0)
        after += len(faces)
        normals = vertex_normals(points, faces)
        lines.append(f"usemtl {material}")
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in points]
        lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv_of]
        lines += [f"vn {x:.6f} {y:.6f} {z:.6f}" for x, y, z in normals]
        for face in faces + offset + 1:
            lines.append("f " + " ".join(f"{i}/{i}/{i}" for i in face))
        offset += len(points)
    out.write_text("\n".join(lines) + "\n")
    return before, after


def main() -> int:
    import cv2
    import pybullet_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=float, default=0.1, help="fraction of triangles kept")
    args = parser.parse_args()
    source = Path(pybullet_data.getDataPath()) / "franka_panda"
    if OUT.exists():
        shutil.rmtree(OUT)
    shutil.copytree(source, OUT, ignore=shutil.ignore_patterns("*.obj"))
    shutil.copytree(source / "meshes" / "collision", OUT / "meshes" / "collision",
                    dirs_exist_ok=True)
    texture = cv2.cvtColor(cv2.imread(str(source / "meshes" / "visual" / "colors.png")),
                           cv2.COLOR_BGR2RGB)
    for mesh in sorted((source / "meshes" / "visual").glob("*.obj")):
        before, after = simplify(mesh, OUT / "meshes" / "visual" / mesh.name, args.keep, texture)
        print(f"{mesh.name}: {before} -> {after} triangles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
