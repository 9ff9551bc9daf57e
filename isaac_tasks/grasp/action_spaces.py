"""The action spaces of `Leap-Grasp-v0` by name: the tabula-rasa ones (isaac_tasks/action_spaces.py) and the
learners' latent and residual spaces over the flow prior, PCA and VQ-VAE (agents/). Resolved on use."""

ACTION_SPACES: dict[str, str] = {
    "abs_joint": "isaac_tasks.action_spaces:AbsoluteJointPose",
    "rel_joint": "isaac_tasks.action_spaces:RelativeJointPose",
    "rfs_hand": "agents.flow_steering:RFSHand",
    "rfs_hand_arm": "agents.flow_steering:RFSHandArm",
    "rfs_chunk_hand": "agents.flow_steering:RFSChunkHand",
    "dsrl_hand": "agents.flow_steering:DSRLHand",
    "dsrl_hand_arm": "agents.flow_steering:DSRLHandArm",
    "residual_hand_arm": "agents.flow_steering:ResidualHandArm",
    "pca": "agents.pca:PCAFingerSpace",
    "vqvae": "agents.vqvae:VQVAEFingerSpace",
}
