"""The AI's side of the control plane: agent profiles, tools, tool actions and pre-warm."""
