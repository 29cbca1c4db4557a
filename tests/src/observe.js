// The tests' observer: an init script Chromium runs in every document before
// any page script (installed over the DevTools protocol by the harness, see
// `observe.rs`). It watches the browser's own objects from outside the app:
// camera and microphone tracks, peer connections, signaling sockets. It
// changes nothing the page sees: every wrapped call returns what the
// original returns, and errors pass through untouched.
//
// It also notes what the person sees and what goes wrong: the first frame of
// each remote video a <video> element presents, every click, and uncaught
// errors and unhandled promise rejections.
//
// Read it with `await window.__observed()` (one JSON snapshot, see the
// bottom of this file). Its raw records live in `window.__observedState`.
(() => {
  'use strict';
  if (window.__observedState) {
    return;
  }
  const state = {
    // Every camera/microphone track the page got, with where it came from
    // ({ track, origin }). Kept forever: a leaked track can't be garbage
    // collected out of sight.
    tracks: [],
    seenTracks: new Set(),
    // Ids of the streams getUserMedia returned.
    localStreamIds: [],
    // Ids from the signaling server's `join` welcomes, in order.
    signalingIds: [],
    // One record per signaling WebSocket.
    sockets: [],
    // One record per RTCPeerConnection, closed ones included.
    connections: [],
    // What happened when (performance.now()), for measurements.
    timeline: [],
    // Tracks that arrived on a peer connection (remote media).
    remoteTracks: new WeakSet(),
    // Remote video tracks whose first frame a <video> has presented:
    // { trackId, at }.
    framesDrawn: [],
    // Uncaught exceptions and unhandled promise rejections, in words.
    pageErrors: [],
  };
  const hidden = (name, value) =>
    Object.defineProperty(window, name, {
      value,
      enumerable: false,
      configurable: false,
      writable: false,
    });
  hidden('__observedState', state);

  const note = (event, detail) => {
    if (state.timeline.length >= 2000) {
      state.timeline.splice(0, 500);
    }
    state.timeline.push(Object.assign({ at: performance.now(), event }, detail));
  };
  // A signaling message (a JSON object), if `data` is one.
  const parseMessage = (data) => {
    if (typeof data !== 'string') {
      return null;
    }
    try {
      const message = JSON.parse(data);
      return message && typeof message === 'object' ? message : null;
    } catch (_) {
      return null;
    }
  };

  const recordTrack = (track, origin) => {
    if (!track || state.seenTracks.has(track)) {
      return;
    }
    state.seenTracks.add(track);
    state.tracks.push({ track, origin });
  };

  // --- Camera and microphone ---------------------------------------------

  if (window.MediaDevices && MediaDevices.prototype.getUserMedia) {
    const getUserMedia = MediaDevices.prototype.getUserMedia;
    MediaDevices.prototype.getUserMedia = function (...args) {
      note('getUserMedia');
      return getUserMedia.apply(this, args).then((stream) => {
        state.localStreamIds.push(stream.id);
        for (const track of stream.getTracks()) {
          recordTrack(track, 'getUserMedia');
        }
        note('getUserMedia resolved', { stream: stream.id });
        return stream;
      });
    };
  }
  if (window.MediaStream && MediaStream.prototype.clone) {
    const cloneStream = MediaStream.prototype.clone;
    MediaStream.prototype.clone = function (...args) {
      const stream = cloneStream.apply(this, args);
      for (const track of stream.getTracks()) {
        recordTrack(track, 'clone');
      }
      return stream;
    };
  }
  if (window.MediaStreamTrack && MediaStreamTrack.prototype.clone) {
    const cloneTrack = MediaStreamTrack.prototype.clone;
    MediaStreamTrack.prototype.clone = function (...args) {
      const track = cloneTrack.apply(this, args);
      recordTrack(track, 'clone');
      return track;
    };
  }

  // --- Peer connections --------------------------------------------------

  const entries = new WeakMap();
  const NativePeerConnection = window.RTCPeerConnection;
  if (NativePeerConnection) {
    // A subclass: `instanceof`, static methods and every inherited method
    // work as before.
    const ObservedPeerConnection = class RTCPeerConnection extends NativePeerConnection {
      constructor(...args) {
        super(...args);
        const entry = {
          pc: this,
          index: state.connections.length,
          candidatesGathered: 0,
          candidatesAdded: 0,
          remoteStreamIds: [],
          rollbacks: 0,
          offersInFlight: 0,
        };
        state.connections.push(entry);
        entries.set(this, entry);
        note('connection created', { index: entry.index });
        this.addEventListener('icecandidate', (event) => {
          if (event.candidate) {
            entry.candidatesGathered += 1;
            if (entry.candidatesGathered === 1) {
              note('first candidate gathered', { index: entry.index });
            }
          }
        });
        this.addEventListener('track', (event) => {
          state.remoteTracks.add(event.track);
          for (const stream of event.streams) {
            if (!entry.remoteStreamIds.includes(stream.id)) {
              entry.remoteStreamIds.push(stream.id);
            }
          }
          note('track', { index: entry.index, kind: event.track.kind });
        });
        this.addEventListener('connectionstatechange', () => {
          note('connection ' + this.connectionState, { index: entry.index });
        });
      }

      setLocalDescription(...args) {
        const entry = entries.get(this);
        const description = args[0];
        const type = description && description.type;
        if (type === 'rollback') {
          entry.rollbacks += 1;
        }
        // An offer in the making (until it is applied, an offer from the
        // other side crossing it is a collision).
        const offering =
          type === 'offer' ||
          (!type && (this.signalingState === 'stable' || this.signalingState === 'have-local-offer'));
        if (offering) {
          entry.offersInFlight += 1;
        }
        const result = super.setLocalDescription(...args);
        if (offering) {
          const settle = () => {
            entry.offersInFlight -= 1;
          };
          Promise.resolve(result).then(settle, settle);
        }
        return result;
      }

      setRemoteDescription(...args) {
        const entry = entries.get(this);
        const description = args[0];
        if (
          description &&
          description.type === 'offer' &&
          (this.signalingState === 'have-local-offer' || entry.offersInFlight > 0)
        ) {
          // Their offer is applied over ours: ours is rolled back.
          entry.rollbacks += 1;
        }
        return super.setRemoteDescription(...args);
      }

      addIceCandidate(...args) {
        const entry = entries.get(this);
        const result = super.addIceCandidate(...args);
        const candidate = args[0];
        const text = candidate && typeof candidate.candidate === 'string' ? candidate.candidate : '';
        if (text) {
          Promise.resolve(result).then(
            () => {
              entry.candidatesAdded += 1;
              if (entry.candidatesAdded === 1) {
                note('first candidate added', { index: entry.index });
              }
            },
            () => {},
          );
        }
        return result;
      }
    };
    window.RTCPeerConnection = ObservedPeerConnection;
    if (window.webkitRTCPeerConnection === NativePeerConnection) {
      window.webkitRTCPeerConnection = ObservedPeerConnection;
    }
  }

  // --- Signaling sockets -------------------------------------------------

  const NativeWebSocket = window.WebSocket;
  if (NativeWebSocket) {
    window.WebSocket = class WebSocket extends NativeWebSocket {
      constructor(...args) {
        super(...args);
        const socket = { socket: this, url: String(this.url), joinIds: [] };
        state.sockets.push(socket);
        this.addEventListener('message', (event) => {
          const message = parseMessage(event.data);
          if (!message) {
            return;
          }
          if (message.type === 'join' && message.id != null) {
            socket.joinIds.push(String(message.id));
            state.signalingIds.push(String(message.id));
          }
          if (message.type !== 'candidate') {
            note('received ' + message.type);
          }
        });
      }

      send(...args) {
        const message = parseMessage(args[0]);
        if (message && message.type !== 'candidate') {
          note('sent ' + message.type);
        }
        return super.send(...args);
      }
    };
  }

  // --- What the person sees and what went wrong ---------------------------

  // The first frame of each remote video track that a <video> element
  // actually presents (requestVideoFrameCallback), whatever element the page
  // shows it in: found by watching every `srcObject` a page sets.
  const drawnTracks = new Set();
  const watchVideo = (video) => {
    if (!video.requestVideoFrameCallback || video.__observedWatching) {
      return;
    }
    video.__observedWatching = true;
    const onFrame = () => {
      const stream = video.srcObject;
      const tracks = stream && stream.getVideoTracks ? stream.getVideoTracks() : [];
      const remote = tracks.filter((t) => state.remoteTracks.has(t) && !drawnTracks.has(t.id));
      for (const track of remote) {
        drawnTracks.add(track.id);
        state.framesDrawn.push({ trackId: track.id, at: performance.now() });
        note('remote frame drawn', { trackId: track.id });
      }
      if (video.srcObject) {
        video.requestVideoFrameCallback(onFrame);
      } else {
        video.__observedWatching = false;
      }
    };
    video.requestVideoFrameCallback(onFrame);
  };
  const srcObject = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'srcObject');
  if (srcObject && srcObject.set) {
    Object.defineProperty(HTMLMediaElement.prototype, 'srcObject', {
      configurable: true,
      enumerable: srcObject.enumerable,
      get() {
        return srcObject.get.call(this);
      },
      set(value) {
        srcObject.set.call(this, value);
        if (value && this instanceof HTMLVideoElement) {
          watchVideo(this);
        }
      },
    });
  }

  // Every click a person (or WebDriver) makes, by element id, so a bench can
  // time from the click itself.
  document.addEventListener(
    'click',
    (event) => {
      const target = event.target && event.target.closest ? event.target.closest('[id]') : null;
      note('click', { target: target ? target.id : '' });
    },
    true,
  );

  const describeError = (value) => {
    if (value && typeof value === 'object') {
      return `${value.name || 'Error'}: ${value.message || String(value)}`;
    }
    return String(value);
  };
  window.addEventListener(
    'error',
    (event) => {
      if (state.pageErrors.length < 100) {
        state.pageErrors.push(describeError(event.error || event.message));
      }
    },
    true,
  );
  window.addEventListener('unhandledrejection', (event) => {
    if (state.pageErrors.length < 100) {
      state.pageErrors.push('unhandled rejection: ' + describeError(event.reason));
    }
  });

  // --- The snapshot ------------------------------------------------------

  const sdpLines = (description, prefix) =>
    description && description.sdp
      ? description.sdp
          .split(/\r?\n/)
          .filter((line) => line.startsWith(prefix))
          .map((line) => line.slice(prefix.length).trim())
      : [];

  const trackView = (track, origin) => {
    const view = {
      id: track.id,
      kind: track.kind,
      readyState: track.readyState,
      label: track.label,
    };
    if (origin) {
      view.origin = origin;
    }
    return view;
  };

  const mediaStats = async (pc) => {
    const out = {
      framesDecoded: 0,
      framesReceived: 0,
      keyFramesDecoded: 0,
      audioPacketsReceived: 0,
      audioSamplesReceived: 0,
      bytesReceived: 0,
      framesEncoded: 0,
      framesSent: 0,
      frameWidthSent: 0,
      frameHeightSent: 0,
      frameWidthReceived: 0,
      frameHeightReceived: 0,
      qualityLimitationReason: null,
    };
    const report = await pc.getStats();
    report.forEach((s) => {
      const kind = s.kind || s.mediaType;
      if (s.type === 'inbound-rtp') {
        out.bytesReceived += s.bytesReceived || 0;
        if (kind === 'video') {
          out.framesDecoded += s.framesDecoded || 0;
          out.framesReceived += s.framesReceived || 0;
          out.keyFramesDecoded += s.keyFramesDecoded || 0;
          if ((s.frameWidth || 0) * (s.frameHeight || 0) >= out.frameWidthReceived * out.frameHeightReceived) {
            out.frameWidthReceived = s.frameWidth || 0;
            out.frameHeightReceived = s.frameHeight || 0;
          }
        } else if (kind === 'audio') {
          out.audioPacketsReceived += s.packetsReceived || 0;
          out.audioSamplesReceived += s.totalSamplesReceived || 0;
        }
      } else if (s.type === 'outbound-rtp' && kind === 'video') {
        out.framesEncoded += s.framesEncoded || 0;
        out.framesSent += s.framesSent || 0;
        if ((s.frameWidth || 0) * (s.frameHeight || 0) >= out.frameWidthSent * out.frameHeightSent) {
          out.frameWidthSent = s.frameWidth || 0;
          out.frameHeightSent = s.frameHeight || 0;
        }
        if (s.qualityLimitationReason !== undefined) {
          out.qualityLimitationReason = s.qualityLimitationReason;
        }
      }
    });
    return out;
  };

  const connectionView = async (entry) => {
    const pc = entry.pc;
    const closed = pc.connectionState === 'closed' || pc.signalingState === 'closed';
    const remote = pc.remoteDescription;
    const msids = sdpLines(remote, 'a=msid:').map((value) => value.split(/\s+/));
    const view = {
      index: entry.index,
      connectionState: pc.connectionState,
      iceConnectionState: pc.iceConnectionState,
      signalingState: pc.signalingState,
      closed,
      remoteStreamIds: entry.remoteStreamIds.slice(),
      remoteMsids: [...new Set(msids.map((m) => m[0]).filter((id) => id && id !== '-'))],
      remoteMsidTrackIds: [...new Set(msids.map((m) => m[1]).filter((id) => id && id !== '-'))],
      remoteUfrag: sdpLines(remote, 'a=ice-ufrag:')[0] || '',
      remoteIcePwd: sdpLines(remote, 'a=ice-pwd:')[0] || '',
      localUfrag: sdpLines(pc.localDescription, 'a=ice-ufrag:')[0] || '',
      localIcePwd: sdpLines(pc.localDescription, 'a=ice-pwd:')[0] || '',
      // The DTLS certificates' fingerprints each side announced.
      localFingerprint: sdpLines(pc.localDescription, 'a=fingerprint:')[0] || '',
      remoteFingerprint: sdpLines(remote, 'a=fingerprint:')[0] || '',
      candidatesGathered: entry.candidatesGathered,
      candidatesAdded: entry.candidatesAdded,
      rollbacks: entry.rollbacks,
      receiverTrackIds: pc
        .getReceivers()
        .map((r) => r.track && r.track.id)
        .filter(Boolean),
      senderTracks: pc
        .getSenders()
        .filter((s) => s.track)
        .map((s) => trackView(s.track)),
    };
    if (!closed) {
      try {
        Object.assign(view, await mediaStats(pc));
      } catch (error) {
        view.statsError = String(error);
      }
    }
    return view;
  };

  hidden('__observed', async (options) => {
    const tracks = state.tracks.map(({ track, origin }) => trackView(track, origin));
    const snapshot = {
      tracks,
      liveTracks: tracks.filter((t) => t.readyState === 'live').length,
      localStreamIds: state.localStreamIds.slice(),
      signalingIds: state.signalingIds.slice(),
      sockets: state.sockets.map((s) => ({
        url: s.url,
        readyState: s.socket.readyState,
        joinIds: s.joinIds.slice(),
      })),
      connections: await Promise.all(state.connections.map(connectionView)),
      framesDrawn: state.framesDrawn.slice(),
      pageErrors: state.pageErrors.slice(),
      now: performance.now(),
    };
    if (options && options.timeline) {
      snapshot.timeline = state.timeline.slice();
    }
    return snapshot;
  });
})();
