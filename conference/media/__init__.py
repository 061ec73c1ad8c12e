"""The media plane: Twilio Media Streams sockets, playout, barge-in, replay, taps and metrics.

Layout: sans-I/O cores (codec, stream_state, playout, vad, replay.Ring, wsframe) and thin shells
(sockets -> forkleg / ai_leg -> live_call.LiveCall; registry.MediaPlane per worker; statesink for
database writes; bus for cross-worker signals; fastws for the socket transport).

Public entry points for other components (everything else is internal):
- `facade.subscribe(app, key, callback) -> unsubscribe` with key = a leg's callSid,
  "out:<AI callSid>" or `facade.mix_key(tenant_id, conference_name)`.
- `facade.ai_speaking(app, call_sid)`, `facade.forks(app)`, `facade.submit(app, job, *args)`.
- Calls up (profiles, tool calls, agent event records) go through `ports`, registered in
  app.extensions by the control plane; a ToolCall without a handler is answered with an error.
- `facade.set_ai_mode(app, tenant_id, conference_name, mode) -> int`: the orchestrator tells
  the live AI its speak/whisper/listen mode (also relayed to other workers over the bus); the
  AI stream's `mode` parameter sets it at start. In listen the AI's audio is dropped, what was
  playing is cleared (truncated at what was heard), and unspoken AI lines are not recorded.
- Prometheus metrics (forkline_media_*) on GET /metrics.
"""
