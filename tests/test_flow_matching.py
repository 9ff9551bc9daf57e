"""The flow-matching prior: keeps both modes of a two-mode dataset, Push properties, inversion, checkpoints."""

import pytest
import torch

from agents.flow_matching import FlowPrior, train_flow_prior

OFFSET = torch.tensor([3.0, -2.0])  # actions far from zero and conditions off scale exercise the normalization


def mode(x: torch.Tensor) -> torch.Tensor:
    """The + mode f(x), (N,) -> (N, 2 steps, 2): the dataset's actions are OFFSET +- f(x)."""
    step = torch.stack([1.0 + 0.5 * x, 0.8 - 0.3 * x], dim=-1)
    return torch.stack([step, 1.2 * step], dim=1)


def two_mode_data(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = 2 * torch.rand(n, generator=generator) - 1
    sign = torch.where(torch.rand(n, generator=generator) < 0.5, 1.0, -1.0)
    actions = OFFSET + sign[:, None, None] * mode(x) + 0.02 * torch.randn(n, 2, 2, generator=generator)
    return 10 * x[:, None] + 5, actions


@pytest.fixture(scope="module")
def prior() -> FlowPrior:
    generator = torch.Generator().manual_seed(0)
    cond, actions = two_mode_data(4096, generator)
    model = FlowPrior(action_dim=2, cond_dim=1, hidden_dims=(128, 128), time_embed_dim=16)
    losses = train_flow_prior(model, cond, actions, num_steps=1500, batch_size=256, lr=2e-3, generator=generator)
    assert sum(losses[-100:]) < 0.75 * sum(losses[:100])  # the multimodal loss has a high floor
    return model


def test_samples_cover_both_modes_and_do_not_average(prior):
    generator = torch.Generator().manual_seed(1)
    cond, _ = two_mode_data(2000, generator)
    with torch.no_grad():
        samples = prior.sample(cond, generator=generator) - OFFSET
    f = mode((cond[:, 0] - 5) / 10)
    near_plus = ((samples - f).flatten(1).norm(dim=1) < 0.3).float().mean()
    near_minus = ((samples + f).flatten(1).norm(dim=1) < 0.3).float().mean()
    near_mean = (samples.flatten(1).norm(dim=1) < 0.5).float().mean()  # the two modes are >= 1 from it
    assert near_plus > 0.35 and near_minus > 0.35, (near_plus, near_minus)
    assert near_plus + near_minus > 0.9 and near_mean < 0.05, near_mean


def test_push_is_deterministic_batched_and_differentiable(prior):
    generator = torch.Generator().manual_seed(2)
    cond, _ = two_mode_data(8, generator)
    a0 = torch.randn(8, 2, 2, generator=generator)
    with torch.no_grad():
        batch = prior.push(cond, a0)
        assert torch.equal(batch, prior.push(cond, a0))
        single = torch.cat([prior.push(cond[i : i + 1], a0[i : i + 1]) for i in range(8)])
    torch.testing.assert_close(batch, single, atol=1e-6, rtol=0)
    assert batch.shape == (8, 2, 2)

    a0.requires_grad_(True)
    prior.zero_grad()
    prior.push(cond, a0, num_steps=4).square().sum().backward()
    assert a0.grad is not None and torch.isfinite(a0.grad).all() and a0.grad.abs().sum() > 0
    assert all(p.grad is not None for p in prior.parameters())


def test_inversion_recovers_a_latent_that_reproduces_the_action(prior):
    generator = torch.Generator().manual_seed(3)
    cond, _ = two_mode_data(64, generator)
    with torch.no_grad():
        target = prior.push(cond, torch.randn(64, 2, 2, generator=generator))
    _, initial_error = prior.invert(cond, target, num_iters=0)  # the backward Euler guess alone
    a0, error = prior.invert(cond, target, num_iters=200)
    with torch.no_grad():
        reached = (prior.push(cond, a0) - target).abs().flatten(1).mean(1)
    torch.testing.assert_close(error, reached)
    # in action units; the modes are ~2 apart and 0.02 wide, so Push contracts most directions of a0 strongly
    assert error.mean() < 1e-2 and error.max() < 0.1 and error.mean() < 0.2 * initial_error.mean(), error


def test_checkpoint_round_trip_and_bad_files(prior, tmp_path):
    path = str(tmp_path / "prior.pt")
    metadata = {"task": "Leap-Grasp-v0", "variant": "hand_only", "cond_fields": ["finger_pos"]}
    prior.save(path, metadata)
    loaded, loaded_metadata = FlowPrior.load(path)
    assert loaded_metadata == metadata and loaded.config == prior.config
    cond, a0 = torch.randn(16, 1), torch.randn(16, 2, 2)
    with torch.no_grad():
        assert torch.equal(loaded.push(cond, a0), prior.push(cond, a0))

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(open(path, "rb").read()[:200])
    incomplete = str(tmp_path / "incomplete.pt")
    torch.save({"config": prior.config, "state_dict": prior.state_dict()}, incomplete)
    for bad in (str(corrupt), incomplete, str(tmp_path / "missing.pt")):
        with pytest.raises(ValueError, match=bad):
            FlowPrior.load(bad)
