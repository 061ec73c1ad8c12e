"""The Simulator's Media Streams: opening (or refusing) them, and their end."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .media_protocol import StreamConnectError
from .store import Call, Stream, rfc2822
from .streams import StreamPort

if TYPE_CHECKING:
    from .interpreter import Leg


class StreamsMixin:
    """Stream methods of the Simulator (needs legs, strictness, now())."""

    def start_stream(self, call: Call, stream: Stream) -> StreamPort:
        """REST or TwiML: open a Media Stream for a live call."""
        leg = self.legs.get(call.sid)
        refusal = self.stream_refusal(call, stream)
        call.streams.append(stream)
        port = StreamPort(self, stream, call)
        stream.client = port
        if not stream.bidirectional and leg is not None and refusal is None:
            leg.forks.append(port)
        port.start(refusal)
        return port

    def stream_refusal(self, call: Call, stream: Stream) -> StreamConnectError | None:
        """Why a new stream fails at connect time (stream-error), or None.

        wss only: https://www.twilio.com/docs/voice/twiml/stream#url (31922, errors/31922);
        names unique per call: https://www.twilio.com/docs/voice/twiml/stream#name — the code
        for a reused name is not documented (UNVERIFIED, 20001 here, as over REST)."""
        if stream.url.startswith("ws://") and not self.strictness.allow_ws:
            return StreamConnectError(31922, "URL Schema Not Supported: only wss:// "
                                             "(start the simulator with --allow-ws for ws://)")
        if stream.name and self.strictness.strict("stream-names") and any(
                stream.name in (s.name, s.sid) for s in call.streams):
            return StreamConnectError(20001, f"a stream named {stream.name[:40]} was already "
                                             "used on this call")
        if call.fail_streams:
            return StreamConnectError(call.fail_streams.pop(0), "stream failed at connect "
                                                                "(fault injection)")
        return None

    def stream_ended(self, port: StreamPort) -> None:
        """A stream's socket is gone: it is no longer fed."""
        leg = self.legs.get(port.stream.call_sid)
        if leg is not None and port in leg.forks:
            leg.forks.remove(port)

    def start_stream_spec(self, leg: Leg, spec, bidirectional: bool) -> StreamPort:
        """<Start>/<Connect><Stream> from TwiML."""
        stream = Stream(call_sid=leg.call.sid, account_sid=self.account_sid, url=spec.url,
                        name=spec.name, track=spec.track, parameters=dict(spec.parameters),
                        status_callback=spec.status_callback and leg.resolve(spec.status_callback),
                        status_callback_method=spec.status_callback_method,
                        bidirectional=bidirectional)
        return self.start_stream(leg.call, stream)

    def stop_stream(self, stream: Stream) -> None:
        """Stop a stream (sends `stop`, then the stream-stopped callback)."""
        if stream.status == "stopped":
            return
        stream.status = "stopped"
        stream.date_updated = rfc2822(self.now())
        leg = self.legs.get(stream.call_sid)
        if leg is not None and stream.client in leg.forks:
            leg.forks.remove(stream.client)
        if stream.client is not None:
            stream.client.stop()

    def stop_streams_named(self, call: Call, name: str | None) -> None:
        """<Stop><Stream name>: stop that stream (or every unidirectional one without a name)."""
        for stream in list(call.streams):
            if not stream.bidirectional and (name is None or name in (stream.name, stream.sid)):
                self.stop_stream(stream)
