import pytest

from assets.objects import object_set


def test_object_set_is_tagged_and_deterministic():
    objects = object_set(seed=7)
    assert len(objects) >= 10
    assert {o.grasp_type for o in objects} == {"pinch", "power"}
    assert objects == object_set(seed=7)
    assert objects != object_set(seed=8)
    assert all(o.mass > 0 and o.friction > 0 and o.rest_height > 0 for o in objects)


def test_grasp_type_filter():
    assert {o.grasp_type for o in object_set(grasp_type="pinch")} == {"pinch"}
    assert {o.grasp_type for o in object_set(grasp_type="power")} == {"power"}
    with pytest.raises(ValueError, match="grasp_type"):
        object_set(grasp_type="claw")
