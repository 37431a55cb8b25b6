"""The PyBullet tabletop world: Panda, blocks and bowls, an RGB-D camera, task families.

Only this package imports pybullet. `sim.env` registers the gymnasium id
`embodied_mm/Tabletop-v0` when imported.
"""
