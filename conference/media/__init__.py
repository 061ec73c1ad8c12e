"""The media plane: Twilio Media Streams sockets, playout, barge-in, replay, taps and metrics."""
