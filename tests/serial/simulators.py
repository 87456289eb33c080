"""Simulated serial peripherals for Gatehouse's tests (issue 7): a PN532 card issuer on its HSU
(UART) link, an RDM6300-style EM4100 reader and an R30x/ZFM fingerprint sensor.

Each simulator plays one device on a real pseudo-terminal: it opens a PTY pair, puts it in raw
mode, links a path the test chooses (like the board's udev symlink /dev/gatehouse-card) to the
PTY's slave, and answers from a thread, byte for byte after the public documents:

- PN532: NXP UM0701-02 (PN532 User Manual) §6.2 frames (normal and extended information frames,
  ACK, NACK, the application-level error frame), HSU wake-up by 0x55 (§7.2.11), and the commands
  GetFirmwareVersion (0x02), SAMConfiguration (0x14), RFConfiguration (0x32), InListPassiveTarget
  (0x4A) and PowerDown (0x16).
- EM4100 / RDM6300: STX, 10 ASCII hex data characters, 2 ASCII hex checksum characters (XOR of
  the five data bytes), ETX, repeated about every 100 ms while a card is held.
- R30x / ZFM (R307, R503, AS608 datasheets): EF 01, 4-byte address, packet id, 2-byte length,
  payload, 2-byte checksum (sum of packet id, length bytes and payload); the instructions
  VfyPwd (0x13), Handshake (0x40), GenImg (0x01), Img2Tz (0x02), RegModel (0x05), Match (0x03),
  UpChar (0x08), ReadSysPara (0x0F) and TempleteNum (0x1D).

Only the standard library is used. A simulator made with path=None has no PTY and no thread: feed
it bytes with `feed()` and take its answers with `drain()` (see `DirectPort`, a pyserial-like
object on top of that, for driving host libraries without a PTY).

PTY notes: the simulator keeps only the master open. While no process has the slave open, the
master reports POLLHUP and reads fail with EIO; the simulator counts the opens (`opens`,
`wait_open()`) and drops what the device would send meanwhile, as a UART does when the port is
closed (a PTY would otherwise buffer it and hand stale bytes to the next open). `unplug()` removes
the link and closes the master: the host's reads then return EOF (0 bytes) or fail with EIO, and
writes fail with EIO. `replug()` makes a new PTY (a new /dev/pts number) and links the same path.
"""

import errno
import hashlib
import os
import select
import sys
import termios
import threading
import time
import traceback
import tty
from collections import namedtuple

__all__ = [
    "HostFrame",
    "PN532Simulator",
    "EM4100Simulator",
    "R30xSimulator",
    "DirectPort",
    "PN532_ACK",
    "PN532_NACK",
    "PN532_ERROR_FRAME",
    "PN532_WAKEUP",
    "pn532_frame",
    "pn532_host_frame",
    "em4100_frame",
    "r30x_checksum",
    "r30x_packet",
    "template_bytes",
    "characteristic_bytes",
    "match_score",
]

# One unit received from the host: `kind` is one of
#   "command"       a well-formed command frame/packet (`code` = command code, `data` = parameters)
#   "ack", "nack"   PN532 ACK / NACK frames from the host
#   "wakeup"        the PN532 HSU wake-up preamble (0x55 ... then zeros)
#   "bad_checksum"  a frame whose LCS/DCS (PN532) or sum (R30x) is wrong
#   "ignored"       a well-formed frame the device ignores (wrong TFI, wrong address, data packet,
#                   or a PN532 command while the PN532 is asleep)
#   "garbage"       bytes that are no frame (logged after 0.1 s of quiet, or before a frame)
#   "data"          bytes sent to the EM4100 reader (which receives nothing)
# `raw` holds the exact bytes; `t` is time.monotonic() when the unit was complete.
HostFrame = namedtuple("HostFrame", "t kind raw code data", defaults=(None, b""))

QUIET_FLUSH = 0.1  # seconds of silence after which bytes that start no frame are logged
PARTIAL_TIMEOUT = 1.0  # seconds of silence after which an incomplete frame is given up
DEFAULT_GARBAGE = bytes([0x13, 0x37, 0xA5, 0x00, 0xFF, 0x55, 0xEF])


def _set_raw(fd):
    """Raw mode, 8N1, no flow control, no translation of any byte (CR, LF, ETX, XON/XOFF...)."""
    tty.setraw(fd, termios.TCSANOW)
    attrs = termios.tcgetattr(fd)
    iflag, oflag, cflag, lflag = attrs[0], attrs[1], attrs[2], attrs[3]
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR
               | termios.IGNCR | termios.ICRNL | termios.IXON | termios.IXOFF | termios.IXANY
               | termios.INPCK)
    oflag &= ~termios.OPOST
    cflag &= ~(termios.CSIZE | termios.PARENB | termios.CSTOPB)
    cflag |= termios.CS8 | termios.CREAD | termios.CLOCAL
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    attrs[0], attrs[1], attrs[2], attrs[3] = iflag, oflag, cflag, lflag
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class _Device:
    """The transport and bookkeeping shared by the three simulators."""

    def __init__(self, path):
        self.path = None if path is None else os.fspath(path)
        self.pty_name = None
        self.received = []  # HostFrame, in order
        self.sent = []  # (t, bytes) actually written to the host
        self.dropped = []  # (t, bytes) the device sent while no host had the port open
        self.opens = 0  # times a host opened the port (slave side)
        self.errors = []  # tracebacks of exceptions in the simulator's thread (should be none)
        self.muted = False
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._knobs = {}
        self._queue = []  # [due, seq, item (bytes or callable -> bytes|None), tag]
        self._seq = 0
        self._rx = bytearray()
        self._rx_at = 0.0
        self._txbuf = bytearray()
        self._master = None
        self._gen = 0
        self._host_open = path is None  # detached: the "host" is whoever calls drain()
        self._stop = False
        self._thread = None
        self._wake_r = self._wake_w = None
        with self._lock:
            self._power_on()
        if path is not None:
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
            self.replug()
            self._thread = threading.Thread(target=self._run, name=type(self).__name__,
                                             daemon=True)
            self._thread.start()

    # ----- to be provided by the devices

    def _power_on(self):
        """Resets the device's volatile state (called at creation and at every replug)."""

    def _parse(self, now):
        """Consumes complete units from self._rx."""

    def _tick(self, now, warp=False):
        """Time-driven behaviour; returns the next time it wants to run, or None. With `warp`
        (detached use) waiting times are skipped."""
        return None

    # ----- plugging

    @property
    def plugged(self):
        return self._master is not None

    @property
    def host_open(self):
        """Whether a host has the port (the PTY's slave) open right now."""
        return self._host_open

    def replug(self):
        """Plugs the device in: a new PTY, the link pointing to it, the device powered on."""
        if self.path is None:
            raise RuntimeError("a detached simulator has no port")
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            try:
                _set_raw(master)
                _set_raw(slave)
                name = os.ttyname(slave)
            finally:
                os.close(slave)
            os.set_blocking(master, False)
            tmp = f"{self.path}.{os.getpid()}.tmp"
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            os.symlink(name, tmp)
            os.replace(tmp, self.path)
            self._master = master
            self.pty_name = name
            self._gen += 1
            self._host_open = False
            self._queue.clear()
            self._txbuf.clear()
            self._rx.clear()
            self._power_on()
            self._cond.notify_all()
        self._wake()

    def unplug(self):
        """Unplugs the device: the link is removed and the PTY's master closed."""
        with self._lock:
            if self.path is not None:
                try:
                    if os.path.islink(self.path) and os.readlink(self.path) == self.pty_name:
                        os.unlink(self.path)
                except FileNotFoundError:
                    pass
            if self._master is not None:
                os.close(self._master)
                self._master = None
            self._gen += 1
            self._host_open = False
            self._queue.clear()
            self._txbuf.clear()
            self._rx.clear()
            self._cond.notify_all()
        self._wake()

    def close(self):
        """Unplugs and stops the thread."""
        if self.path is not None:
            self.unplug()
        self._stop = True
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        for fd in (self._wake_r, self._wake_w):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._wake_r = self._wake_w = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----- fault knobs

    def _arm(self, name, value, times):
        with self._lock:
            if times == 0:
                self._knobs.pop(name, None)
            else:
                self._knobs[name] = [times, value]
        self._wake()

    def _take(self, name):
        k = self._knobs.get(name)
        if k is None:
            return None
        if k[0] is not None:
            k[0] -= 1
            if k[0] <= 0:
                del self._knobs[name]
        return k[1]

    def armed(self, name):
        """Whether the fault `name` is still armed (e.g. "garbage", "bad_checksum", "slow")."""
        with self._lock:
            return name in self._knobs

    def garbage(self, data=DEFAULT_GARBAGE, times=1):
        """Sends `data` before the next answer (`times` answers; None = every answer)."""
        self._arm("garbage", bytes(data), times)

    def slow(self, seconds, times=1):
        """Delays the next answer by `seconds` (`times` answers; None = every answer)."""
        self._arm("slow", float(seconds), times)

    def mute(self, on=True):
        """A muted device receives (and logs) but never answers."""
        with self._lock:
            self.muted = on
        self._wake()

    def clear_faults(self):
        with self._lock:
            self._knobs.clear()
            self.muted = False
        self._wake()

    # ----- the log

    @property
    def frames(self):
        """The raw bytes of every unit received from the host, in order."""
        with self._lock:
            return [f.raw for f in self.received]

    def commands(self):
        """(code, data) of every well-formed command received."""
        with self._lock:
            return [(f.code, f.data) for f in self.received if f.kind == "command"]

    def clear_log(self):
        with self._lock:
            self.received.clear()
            self.sent.clear()
            self.dropped.clear()

    def _log(self, now, kind, raw, code=None, data=b""):
        self.received.append(HostFrame(now, kind, bytes(raw), code, bytes(data)))
        self._cond.notify_all()

    def wait_for(self, predicate, timeout=5.0, what="condition"):
        """Waits until predicate(self) is true (evaluated under the device's lock)."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                log = "\n".join(f"  {f.kind}: {f.raw.hex(' ')}" for f in self.received[-20:])
                errors = "".join(self.errors)
                raise AssertionError(f"{type(self).__name__}: timed out after {timeout} s "
                                     f"waiting for {what}; last frames received:\n{log}"
                                     + (f"\nerrors in the simulator:\n{errors}" if errors
                                        else ""))

    def wait_command(self, code, timeout=5.0, after=0):
        """Waits for a command `code` among the frames received from index `after`; returns it."""
        found = []

        def pred(dev):
            for f in dev.received[after:]:
                if f.kind == "command" and f.code == code:
                    found.append(f)
                    return True
            return False

        self.wait_for(pred, timeout, f"command {code:#04x}")
        return found[0]

    def wait_open(self, timeout=5.0, count=1):
        """Waits until a host has opened the port `count` times in all (see `opens`)."""
        self.wait_for(lambda d: d.opens >= count, timeout, f"open #{count} of the port")

    # ----- output

    def _schedule(self, delay, item, tag="answer", now=None):
        now = time.monotonic() if now is None else now
        self._seq += 1
        self._queue.append([now + max(0.0, delay), self._seq, item, tag])
        self._queue.sort(key=lambda e: (e[0], e[1]))
        self._wake()

    def _cancel(self, tag):
        self._queue = [e for e in self._queue if e[3] != tag]

    def inject(self, data):
        """Sends raw bytes to the host now."""
        with self._lock:
            self._schedule(0, bytes(data), "inject")

    def _emit(self, data, now):
        if not data:
            return
        if not self._host_open:
            self.dropped.append((now, bytes(data)))
            return
        self.sent.append((now, bytes(data)))
        self._txbuf += data
        self._cond.notify_all()

    def _flush_due(self, now, everything=False):
        while self._queue and (everything or self._queue[0][0] <= now):
            _, _, item, _ = self._queue.pop(0)
            data = item() if callable(item) else item
            if data:
                self._emit(data, now)

    # ----- detached use (no PTY): sans-IO

    def feed(self, data):
        """Detached use: the host sends `data`."""
        with self._lock:
            now = time.monotonic()
            self._rx += data
            self._rx_at = now
            self._parse(now)

    def drain(self):
        """Detached use: everything the device has to send (delays are skipped)."""
        with self._lock:
            now = time.monotonic()
            self._tick(now, warp=True)
            self._flush_due(now, everything=True)
            out = bytes(self._txbuf)
            self._txbuf.clear()
            return out

    # ----- the thread

    def _wake(self):
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"\0")
            except OSError:
                pass

    def _run(self):
        while not self._stop:
            try:
                self._run_once()
            except Exception:  # keep the device alive for the test, and say what broke
                msg = traceback.format_exc()
                self.errors.append(msg)
                sys.stderr.write(f"{type(self).__name__}: {msg}")
                time.sleep(0.05)

    def _run_once(self):
        now = time.monotonic()
        with self._lock:
            fd, gen = self._master, self._gen
            timeout = 0.2
            if self._queue:
                timeout = min(timeout, self._queue[0][0] - now)
            nxt = self._tick(now)
            if nxt is not None:
                timeout = min(timeout, nxt - now)
            if self._rx:
                quiet = self._rx_at + QUIET_FLUSH
                timeout = min(timeout, (quiet if quiet > now else self._rx_at
                                        + PARTIAL_TIMEOUT) - now)
            if self._txbuf:
                timeout = min(timeout, 0.01)
            watch = fd is not None and self._host_open
            if fd is not None and not self._host_open:
                timeout = min(timeout, 0.02)  # poll for the host to open the port
        p = select.poll()
        p.register(self._wake_r, select.POLLIN)
        if watch:
            p.register(fd, select.POLLIN)
        try:
            p.poll(max(0.0, timeout) * 1000)
        except InterruptedError:
            pass
        try:
            while os.read(self._wake_r, 512):
                pass
        except OSError:
            pass
        with self._lock:
            if self._stop or self._gen != gen or self._master is None:
                return
            self._service(self._master, time.monotonic())

    def _service(self, fd, now):
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLOUT)
        revents = dict(p.poll(0)).get(fd, 0)
        if revents & select.POLLIN or self._host_open:
            while True:
                try:
                    chunk = os.read(fd, 4096)
                except BlockingIOError:
                    break
                except OSError as e:
                    if e.errno == errno.EIO:
                        break  # no host has the port open
                    raise
                if not chunk:
                    break
                self._rx += chunk
                self._rx_at = now
        host_open = not revents & select.POLLHUP
        if host_open and not self._host_open:
            self.opens += 1
        if host_open != self._host_open:
            self._host_open = host_open
            self._cond.notify_all()
        if self._rx:
            self._parse(now)
        self._tick(now)
        self._flush_due(now)
        if self._txbuf:
            if not self._host_open:
                self.dropped.append((now, bytes(self._txbuf)))
                self._txbuf.clear()
                return
            try:
                n = os.write(fd, self._txbuf)
                del self._txbuf[:n]
            except BlockingIOError:
                if len(self._txbuf) > 65536:
                    self._txbuf.clear()
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                self._txbuf.clear()


# =====================================================================================  PN532

PN532_ACK = bytes([0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00])
PN532_NACK = bytes([0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00])
PN532_ERROR_FRAME = bytes([0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00])
PN532_WAKEUP = bytes([0x55, 0x55] + [0x00] * 14)
_TFI_HOST, _TFI_PN532 = 0xD4, 0xD5


def pn532_frame(payload, extended=None):
    """An information frame around `payload` (TFI + PD0..PDn): `00 00 FF LEN LCS payload DCS 00`,
    or extended `00 00 FF FF FF LENM LENL LCS payload DCS 00` (UM0701-02 §6.2.1.1-2) when
    `extended` is true, or when it is None and the payload is longer than 254 bytes."""
    payload = bytes(payload)
    n = len(payload)
    if extended is None:
        extended = n > 254
    if extended:
        m, l = n >> 8 & 0xFF, n & 0xFF
        head = bytes([0x00, 0x00, 0xFF, 0xFF, 0xFF, m, l, (-(m + l)) & 0xFF])
    else:
        if not 0 < n <= 255:
            raise ValueError("normal frame payload must be 1..255 bytes")
        head = bytes([0x00, 0x00, 0xFF, n, (-n) & 0xFF])
    return head + payload + bytes([(-sum(payload)) & 0xFF, 0x00])


def pn532_host_frame(cmd, data=b"", extended=None):
    """A host→PN532 command frame (TFI D4)."""
    return pn532_frame(bytes([_TFI_HOST, cmd]) + bytes(data), extended)


class PN532Simulator(_Device):
    """A PN532 on its HSU link (UM0701-02).

    Behaviour: after power-on (creation, replug) it sleeps until it receives a 0x55 (the HSU
    wake-up condition, described with PowerDown in §7.2.11; the zeros after it are ignored, so a
    16-byte wake-up like libnfc's and Gatehouse's and adafruit's 17 bytes both work); frames
    received while asleep are logged as "ignored"; PowerDown (0x16) puts it to sleep again. A command frame is
    answered with the ACK frame, then the response frame `D5 (cmd+1) ...`. A host ACK aborts a
    pending command (§6.2.1.3); a host NACK makes it resend its last response (§6.2.1.4). A frame
    with a bad LCS or DCS is not answered. An unknown command gets the ACK and the error frame.
    InListPassiveTarget with a card in the field answers at once `D5 4B 01 01 SENS_RES SEL_RES
    NFCIDLength NFCID1`; with no card it answers `D5 4B 00` after `no_card_delay` seconds when
    RFConfiguration item 5 set MxRtyPassiveActivation below 0xFF, and keeps waiting for a card
    (the PN532's power-on default, retry forever) otherwise.
    """

    def __init__(self, path, *, firmware=(0x32, 0x01, 0x06, 0x07), require_wakeup=True,
                 response_delay=0.002, no_card_delay=0.05, force_extended=False):
        self.firmware = tuple(firmware)
        self.require_wakeup = require_wakeup
        self.response_delay = response_delay
        self.no_card_delay = no_card_delay
        self.force_extended = force_extended
        self.resend_on_nack = True
        self.card = None  # (uid, sens_res, sel_res) while a card is in the field
        super().__init__(path)

    def _power_on(self):
        self.awake = not self.require_wakeup
        self.sam_configured = False
        self.rf_retries = (0xFF, 0x01, 0xFF)  # MxRtyATR, MxRtyPSL, MxRtyPassiveActivation
        self.last_response = None
        self._waiting_card = False

    # ----- device actions

    def present(self, uid, sens_res=None, sel_res=None):
        """Puts a ISO/IEC 14443A card with `uid` (4, 7 or 10 bytes) in the field. SENS_RES and
        SEL_RES default to a MIFARE Classic 1K's (00 04 / 08) for 4 bytes and an NTAG's
        (00 44 / 00) otherwise."""
        uid = bytes(uid)
        if len(uid) not in (4, 7, 10):
            raise ValueError("UID must be 4, 7 or 10 bytes")
        if sens_res is None:
            sens_res = b"\x00\x04" if len(uid) == 4 else b"\x00\x44"
        if sel_res is None:
            sel_res = 0x08 if len(uid) == 4 else 0x00
        with self._lock:
            self.card = (uid, bytes(sens_res), sel_res)
            self._cond.notify_all()
        self._wake()

    def remove(self):
        """Takes the card out of the field."""
        with self._lock:
            self.card = None
            self._cond.notify_all()

    # ----- PN532-specific fault knobs

    def nack(self, times=1):
        """Answers the next command(s) with a NACK instead of the ACK (and no response)."""
        self._arm("nack", True, times)

    def bad_checksum(self, times=1, part="dcs"):
        """Corrupts the next response frame(s): `part` "dcs" or "lcs"."""
        if part not in ("dcs", "lcs"):
            raise ValueError(part)
        self._arm("bad_checksum", part, times)

    def garbage(self, data=DEFAULT_GARBAGE, times=1, before="ack"):
        """Sends `data` before the next ACK (`before`="ack") or the next response ("response")."""
        if before not in ("ack", "response"):
            raise ValueError(before)
        self._arm("garbage_" + before, bytes(data), times)

    def slow(self, seconds, times=1, ack=True):
        """Delays the next answer by `seconds`: the ACK and the response, or with ack=False only
        the response (the ACK comes at once)."""
        self._arm("slow" if ack else "slow_response", float(seconds), times)

    # ----- parsing the host's bytes

    def _parse(self, now):
        buf = self._rx
        while buf:
            i = buf.find(b"\x00\xff")
            if i < 0:
                if now - self._rx_at >= QUIET_FLUSH:
                    self._prefix(bytes(buf), now)
                    buf.clear()
                return
            cut = i - 1 if i >= 1 and buf[i - 1] == 0x00 else i  # the preamble 00 is optional
            if cut > 0:
                self._prefix(bytes(buf[:cut]), now)
                del buf[:cut]
                continue
            h = i - cut + 2  # index after the start code
            if len(buf) < h + 2:
                return self._stale(now)
            a, b = buf[h], buf[h + 1]
            if (a, b) in ((0x00, 0xFF), (0xFF, 0x00)):
                if len(buf) < h + 3:
                    return self._stale(now)
                raw = bytes(buf[:h + 3])
                del buf[:h + 3]
                self._control(now, "ack" if a == 0x00 else "nack", raw)
                continue
            if (a, b) == (0xFF, 0xFF):
                if len(buf) < h + 5:
                    return self._stale(now)
                m, l, lcs = buf[h + 2], buf[h + 3], buf[h + 4]
                n, body = m << 8 | l, h + 5
                lcs_ok = (m + l + lcs) & 0xFF == 0
            else:
                n, body = a, h + 2
                lcs_ok = (a + b) & 0xFF == 0
            if not lcs_ok or n == 0:
                self._log(now, "bad_checksum", buf[:body])
                del buf[:h]
                continue
            end = body + n + 2  # payload, DCS, postamble
            if len(buf) < end:
                if now - self._rx_at >= PARTIAL_TIMEOUT:
                    self._log(now, "garbage", buf[:h])  # an announced frame that never came
                    del buf[:h]
                    continue
                return
            raw = bytes(buf[:end])
            payload = bytes(buf[body:body + n])
            dcs = buf[body + n]
            del buf[:end]
            if (sum(payload) + dcs) & 0xFF:
                self._log(now, "bad_checksum", raw)
                continue
            if len(payload) < 2 or payload[0] != _TFI_HOST:
                self._log(now, "ignored", raw)
                continue
            if not self.awake:
                self._log(now, "ignored", raw, payload[1], payload[2:])
                continue
            self._log(now, "command", raw, payload[1], payload[2:])
            self._command(payload[1], payload[2:], now)

    def _stale(self, now):
        if self._rx and now - self._rx_at >= PARTIAL_TIMEOUT:
            self._prefix(bytes(self._rx), now)
            self._rx.clear()

    def _prefix(self, data, now):
        if 0x55 in data:
            self._log(now, "wakeup", data)
            self.awake = True
        else:
            self._log(now, "garbage", data)

    def _control(self, now, kind, raw):
        self._log(now, kind, raw)
        if not self.awake:
            return
        if kind == "ack":
            # The host aborts the command in progress.
            self._cancel("response")
            self._waiting_card = False
        elif self.resend_on_nack and self.last_response is not None and not self.muted:
            self._cancel("response")
            frame = self.last_response
            self._schedule(self.response_delay, lambda: self._send_response(frame), "response",
                           now)

    # ----- answering

    def _send_response(self, frame):
        self.last_response = frame
        part = self._take("bad_checksum")
        if part == "lcs":
            frame = bytearray(frame)
            frame[7 if frame[3:5] == b"\xff\xff" else 4] ^= 0x01
        elif part == "dcs":
            frame = bytearray(frame)
            frame[-2] ^= 0x01
        pre = self._take("garbage_response") or b""
        return pre + bytes(frame)

    def _response(self, payload):
        return pn532_frame(bytes([_TFI_PN532]) + bytes(payload),
                           True if self.force_extended else None)

    def _command(self, cmd, data, now):
        if self.muted:
            return
        delay = self._take("slow") or 0.0
        if self._take("nack"):
            self._schedule(delay, PN532_NACK, "ack", now)
            return
        self._cancel("response")
        self._waiting_card = False
        pre = self._take("garbage_ack") or b""
        self._schedule(delay, pre + PN532_ACK, "ack", now)
        delay += self._take("slow_response") or 0.0
        answer = self._answer(cmd, bytes(data))
        if answer is None:
            return
        if answer == "error":
            frame = PN532_ERROR_FRAME
            self._schedule(delay + self.response_delay, lambda: self._send_response(frame),
                           "response", now)
        elif answer == "inlist":
            self._waiting_card = True
            self._inlist_since = now + delay
        else:
            frame = self._response(answer)
            self._schedule(delay + self.response_delay, lambda: self._send_response(frame),
                           "response", now)

    def _answer(self, cmd, data):
        """The response payload (after D5) for a command, "error", "inlist" or None."""
        if cmd == 0x02:  # GetFirmwareVersion
            return bytes([0x03, *self.firmware])
        if cmd == 0x14:  # SAMConfiguration: Mode [Timeout [IRQ]]
            if not data or data[0] not in (1, 2, 3, 4):
                return "error"
            self.sam_configured = True
            return b"\x15"
        if cmd == 0x32:  # RFConfiguration: CfgItem ConfigurationData[]
            if not data:
                return "error"
            if data[0] == 0x05:
                if len(data) != 4:
                    return "error"
                self.rf_retries = tuple(data[1:4])
            return b"\x33"
        if cmd == 0x4A:  # InListPassiveTarget: MaxTg BrTy [InitiatorData]
            if len(data) < 2 or data[0] not in (1, 2) or data[1] > 4:
                return "error"
            self._inlist_brty = data[1]
            return "inlist"
        if cmd == 0x16:  # PowerDown: WakeUpEnable [GenerateIRQ]
            if not data:
                return "error"
            self._schedule(self.response_delay * 2, self._fall_asleep, "sleep")
            return b"\x17\x00"
        return "error"

    def _fall_asleep(self):
        self.awake = False
        return None

    def _target_payload(self):
        uid, sens, sel = self.card
        return bytes([0x4B, 0x01, 0x01, *sens, sel, len(uid), *uid])

    def _tick(self, now, warp=False):
        if not self._waiting_card or self.muted:
            return None
        if now < self._inlist_since and not warp:
            return self._inlist_since
        retry_forever = self.rf_retries[2] == 0xFF
        if self.card is not None and self._inlist_brty == 0x00:
            frame = self._response(self._target_payload())
        elif not retry_forever and (warp or now >= self._inlist_since + self.no_card_delay):
            frame = self._response(b"\x4B\x00")
        elif not retry_forever:
            return self._inlist_since + self.no_card_delay
        else:
            return None  # retrying forever: present() wakes the thread
        self._waiting_card = False
        # Through the queue, so that it follows the ACK scheduled for the same command.
        self._schedule(0, lambda: self._send_response(frame), "response", now)
        return None


# =====================================================================================  EM4100


def em4100_frame(data, bad_checksum=False):
    """An RDM6300 frame for the 5 data bytes: STX, 10 hex characters, 2 hex checksum characters
    (XOR of the data bytes), ETX. Upper-case hex, like the RDM6300."""
    data = bytes(data)
    if len(data) != 5:
        raise ValueError("EM4100 data is 5 bytes")
    x = 0
    for b in data:
        x ^= b
    if bad_checksum:
        x ^= 0x01
    return b"\x02" + data.hex().upper().encode() + f"{x:02X}".encode() + b"\x03"


class EM4100Simulator(_Device):
    """An RDM6300-style 125 kHz reader: while a card is held it sends the card's frame every
    `interval` seconds; it receives nothing (bytes from the host are logged as "data")."""

    def __init__(self, path, *, interval=0.1):
        self.interval = interval
        self.card = None
        self._next = None
        self._until = None
        super().__init__(path)

    def present(self, data, hold=None):
        """Holds a card with these 5 data bytes on the reader (for `hold` seconds, or until
        `remove()`)."""
        data = bytes(data)
        if len(data) != 5:
            raise ValueError("EM4100 data is 5 bytes")
        with self._lock:
            now = time.monotonic()
            self.card = data
            self._next = now + (self._take("slow") or 0.0)
            self._until = None if hold is None else now + hold
            self._cond.notify_all()
        self._wake()

    def remove(self):
        with self._lock:
            self.card = None
            self._cond.notify_all()

    def bad_checksum(self, times=1):
        """Sends the next frame(s) with a wrong checksum."""
        self._arm("bad_checksum", True, times)

    def slow(self, seconds, times=1):
        """Delays the first frame after the next present() by `seconds`."""
        self._arm("slow", float(seconds), times)

    def frames_sent(self):
        """The frames sent to the host (what reached an open port), without faults' garbage."""
        with self._lock:
            out = []
            for _, b in self.sent:
                i = b.find(b"\x02")
                out.append(b[i:] if i >= 0 else b)
            return out

    def _parse(self, now):
        if self._rx:
            self._log(now, "data", self._rx)
            self._rx.clear()

    def _tick(self, now, warp=False):
        if self.card is None:
            return None
        if self._until is not None and now >= self._until and not warp:
            self.card = None
            self._cond.notify_all()
            return None
        if now >= self._next or warp:
            self._next = now + self.interval
            if not self.muted:
                bad = bool(self._take("bad_checksum"))
                pre = self._take("garbage") or b""
                self._emit(pre + em4100_frame(self.card, bad), now)
        return self._next if self._until is None else min(self._next, self._until)


# =====================================================================================  R30x

R30X_START = b"\xEF\x01"
PID_COMMAND, PID_DATA, PID_ACK, PID_END = 0x01, 0x02, 0x07, 0x08
TEMPLATE_SIZE = 512


def r30x_checksum(pid, payload):
    n = len(payload) + 2
    return (pid + (n >> 8) + (n & 0xFF) + sum(payload)) & 0xFFFF


def r30x_packet(pid, payload, address=0xFFFFFFFF):
    """`EF 01 ADDR(4) PID LEN(2) payload SUM(2)`; LEN counts the payload and the checksum."""
    payload = bytes(payload)
    n = len(payload) + 2
    return (R30X_START + address.to_bytes(4, "big") + bytes([pid]) + n.to_bytes(2, "big")
            + payload + r30x_checksum(pid, payload).to_bytes(2, "big"))


def _derive(label, finger, size):
    out = b""
    block = 0
    while len(out) < size:
        out += hashlib.sha256(f"gatehouse-r30x/{label}/{finger}/{block}".encode()).digest()
        block += 1
    return out[:size]


def template_bytes(finger):
    """The 512-byte template the sensor uploads (UpChar) after RegModel of `finger`'s presses."""
    return _derive("template", finger, TEMPLATE_SIZE)


def characteristic_bytes(finger):
    """The 512-byte character file of one press of `finger` (UpChar before RegModel)."""
    return _derive("character", finger, TEMPLATE_SIZE)


def match_score(finger):
    """The score Match answers when the prints are both `finger`'s."""
    return 60 + (finger * 37) % 200


class R30xSimulator(_Device):
    """An R307/R503/AS608-style fingerprint sensor (ZFM protocol).

    A finger id stands for a finger: GenImg (0x01) answers 0x00 while a finger is pressed and
    0x02 otherwise; Img2Tz (02 BufferID) turns the image into a character file of that finger
    (0x15 if there is no image); RegModel (0x05) combines CharBuffer1 and 2 into the model, stored
    back in both, when they are the same finger's (0x0A otherwise); Match (0x03) compares
    CharBuffer1 with CharBuffer2 (0x00 + 2-byte score, or 0x08); UpChar (08 BufferID) sends the
    ack, then the buffer's 512 bytes in data packets (pid 02) of `packet_size` bytes, the last
    one pid 08. VfyPwd (0x13) answers 0x13 for a wrong password; with a non-zero password other
    instructions answer 0x21 until it is verified. A packet with a bad sum answers 0x01; an
    unknown instruction answers `unknown_code` (0x01). Packets for another address are ignored.
    """

    def __init__(self, path, *, address=0xFFFFFFFF, password=0, packet_size=128,
                 capture_time=0.05, answer_delay=0.0, library_size=1000, security_level=3):
        if packet_size not in (32, 64, 128, 256):
            raise ValueError("packet_size is 32, 64, 128 or 256")
        self.address = address
        self.password = password
        self.packet_size = packet_size
        self.capture_time = capture_time
        self.answer_delay = answer_delay
        self.library_size = library_size
        self.security_level = security_level
        self.unknown_code = 0x01
        self.finger = None
        super().__init__(path)

    def _power_on(self):
        self.verified = False
        self.image = None
        self.char_buffers = {1: None, 2: None}  # ("char" | "model", finger)

    # ----- device actions

    def press(self, finger):
        """Puts finger `finger` (an int) on the sensor."""
        with self._lock:
            self.finger = finger
            self._cond.notify_all()

    def lift(self):
        with self._lock:
            self.finger = None
            self._cond.notify_all()

    def enroll_presses(self, finger, hold=0.6, gap=0.6, presses=3, start_delay=0.0):
        """Presses and lifts `presses` times in a thread (started; join it or not): hold the
        finger `hold` seconds, lift it for `gap` seconds. `finger` is one id, or a list with one
        id per press (to make the prints differ)."""
        fingers = list(finger) if isinstance(finger, (list, tuple)) else [finger] * presses

        def script():
            time.sleep(start_delay)
            for f in fingers:
                self.press(f)
                time.sleep(hold)
                self.lift()
                time.sleep(gap)

        t = threading.Thread(target=script, name="enroll_presses", daemon=True)
        t.start()
        return t

    # ----- R30x-specific fault knobs

    def bad_checksum(self, times=1, packet=0):
        """Corrupts the sum of the next answer(s)' packet number `packet` (0 = the ack; for
        UpChar 1.. are the data packets)."""
        self._arm("bad_checksum", int(packet), times)

    def fail_next(self, instruction, code, times=1):
        """The next `instruction` (e.g. 0x02 Img2Tz) answers confirmation code `code` (e.g. 0x06
        image too messy) instead of doing its work."""
        self._arm(f"fail_{instruction:02x}", int(code), times)

    # ----- parsing

    def _parse(self, now):
        buf = self._rx
        while buf:
            i = buf.find(R30X_START)
            if i < 0:
                keep = 1 if buf[-1] == 0xEF else 0
                if now - self._rx_at >= QUIET_FLUSH:
                    keep = 0
                if len(buf) > keep:
                    self._log(now, "garbage", buf[:len(buf) - keep])
                    del buf[:len(buf) - keep]
                return
            if i > 0:
                self._log(now, "garbage", buf[:i])
                del buf[:i]
                continue
            if len(buf) < 9:
                return self._stale(now)
            n = int.from_bytes(buf[7:9], "big")
            if n < 3 or n > 258:
                self._log(now, "garbage", buf[:2])
                del buf[:2]
                continue
            end = 9 + n
            if len(buf) < end:
                return self._stale(now)
            raw = bytes(buf[:end])
            del buf[:end]
            address = int.from_bytes(raw[2:6], "big")
            pid, payload = raw[6], raw[9:end - 2]
            if address != self.address:
                self._log(now, "ignored", raw)
                continue
            if int.from_bytes(raw[end - 2:end], "big") != r30x_checksum(pid, payload):
                self._log(now, "bad_checksum", raw)
                if pid == PID_COMMAND:
                    self._reply(now, lambda: [(PID_ACK, b"\x01")])
                continue
            if pid != PID_COMMAND:
                self._log(now, "ignored", raw)
                continue
            self._log(now, "command", raw, payload[0], payload[1:])
            self._command(payload[0], payload[1:], now)

    def _stale(self, now):
        if now - self._rx_at >= PARTIAL_TIMEOUT and self._rx:
            self._log(now, "garbage", self._rx)
            self._rx.clear()

    # ----- answering

    def _reply(self, now, make, delay=0.0):
        """Schedules the answer; `make` runs when it is due and returns [(pid, payload)]."""
        if self.muted:
            return
        delay += self.answer_delay + (self._take("slow") or 0.0)

        def send():
            packets = [r30x_packet(pid, p, self.address) for pid, p in make()]
            bad = self._take("bad_checksum")
            if bad is not None and bad < len(packets):
                f = bytearray(packets[bad])
                f[-1] ^= 0x01
                packets[bad] = bytes(f)
            return (self._take("garbage") or b"") + b"".join(packets)

        self._schedule(delay, send, "answer", now)

    def _command(self, ins, params, now):
        fail = self._take(f"fail_{ins:02x}")
        delay = self.capture_time if ins == 0x01 else 0.0
        # The sensor does the work when it answers, so a finger pressed or lifted meanwhile
        # counts, and a host that sends the next command before reading this answer still gets
        # them in order.
        self._reply(now, lambda: self._execute(ins, params, fail), delay)

    def _execute(self, ins, params, fail):
        """Does instruction `ins` now; returns the answer's packets [(pid, payload)]."""
        def ack(code, data=b""):
            return [(PID_ACK, bytes([code]) + bytes(data))]

        if fail is not None:
            return ack(fail)
        if self.password != 0 and not self.verified and ins not in (0x13, 0x40):
            return ack(0x21)
        if ins == 0x13:  # VfyPwd
            if len(params) != 4:
                return ack(0x01)
            self.verified = int.from_bytes(params, "big") == self.password
            return ack(0x00 if self.verified else 0x13)
        if ins == 0x40:  # Handshake
            return ack(0x00)
        if ins == 0x01:  # GenImg
            if self.finger is None:
                return ack(0x02)
            self.image = self.finger
            return ack(0x00)
        if ins == 0x02:  # Img2Tz BufferID
            if len(params) != 1 or params[0] not in (1, 2):
                return ack(0x01)
            if self.image is None:
                return ack(0x15)
            self.char_buffers[params[0]] = ("char", self.image)
            return ack(0x00)
        if ins == 0x05:  # RegModel
            c1, c2 = self.char_buffers[1], self.char_buffers[2]
            if c1 is None or c2 is None or c1[1] != c2[1]:
                return ack(0x0A)
            model = ("model", c1[1])
            self.char_buffers = {1: model, 2: model}
            return ack(0x00)
        if ins == 0x03:  # Match
            c1, c2 = self.char_buffers[1], self.char_buffers[2]
            if c1 is None or c2 is None or c1[1] != c2[1]:
                return ack(0x08)
            return ack(0x00, match_score(c1[1]).to_bytes(2, "big"))
        if ins == 0x08:  # UpChar BufferID: the ack, then the data packets
            if len(params) != 1 or params[0] not in (1, 2):
                return ack(0x01)
            content = self.char_buffers[params[0]]
            if content is None:
                return ack(0x0D)
            kind, finger = content
            blob = template_bytes(finger) if kind == "model" else characteristic_bytes(finger)
            size = self.packet_size
            chunks = [blob[i:i + size] for i in range(0, len(blob), size)]
            out = ack(0x00)
            for j, c in enumerate(chunks):
                out.append((PID_END if j == len(chunks) - 1 else PID_DATA, c))
            return out
        if ins == 0x0F:  # ReadSysPara
            size_code = {32: 0, 64: 1, 128: 2, 256: 3}[self.packet_size]
            return ack(0x00, b"\x00\x00"  # status register
                       + b"\x00\x09"  # system identifier code
                       + self.library_size.to_bytes(2, "big")
                       + self.security_level.to_bytes(2, "big")
                       + self.address.to_bytes(4, "big")
                       + size_code.to_bytes(2, "big")
                       + (57600 // 9600).to_bytes(2, "big"))
        if ins == 0x1D:  # TempleteNum
            return ack(0x00, b"\x00\x00")
        return ack(self.unknown_code)


# =====================================================================================  no PTY


class DirectPort:
    """A pyserial-like port wired straight to a detached simulator (made with path=None): what
    is written is fed to the device, reads take its answers at once (its delays are skipped).
    `written` keeps every write() call's bytes; `take_written()` returns and forgets them."""

    def __init__(self, device, timeout=0.05):
        if device.path is not None:
            raise ValueError("DirectPort needs a simulator made with path=None")
        self.device = device
        self.timeout = timeout
        self.written = []
        self._in = bytearray()
        self.is_open = True

    def _pull(self):
        self._in += self.device.drain()

    @property
    def in_waiting(self):
        self._pull()
        return len(self._in)

    def read(self, size=1):
        self._pull()
        out = bytes(self._in[:size])
        del self._in[:size]
        return out

    def write(self, data):
        data = bytes(data)
        self.written.append(data)
        self.device.feed(data)
        return len(data)

    def take_written(self):
        out = b"".join(self.written)
        self.written.clear()
        return out

    def reset_input_buffer(self):
        self._pull()
        self._in.clear()

    def flush(self):
        pass

    def open(self):
        self.is_open = True

    def close(self):
        self.is_open = False

    def isOpen(self):  # noqa: N802 (pyserial 2 name, used by pyfingerprint)
        return self.is_open


# =====================================================================================  CLI

_DEVICES = {"pn532": PN532Simulator, "em4100": EM4100Simulator, "r30x": R30xSimulator}
_BYTES_ARG = {"present": 0, "garbage": 0, "inject": 0}  # methods whose first argument is hex


def _value(token):
    low = token.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(token, 0)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token


def _jsonable(x):
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).hex()
    if isinstance(x, HostFrame):
        return {"t": x.t, "kind": x.kind, "raw": x.raw.hex(), "code": x.code,
                "data": x.data.hex()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, threading.Thread):
        return x.name
    return x


def serve(argv=None, stdin=None, stdout=None):
    """Plays one device at PATH for another process (e.g. a cargo integration test):

        python tests/serial/simulators.py pn532|em4100|r30x PATH [--option VALUE ...]

    Options are the constructor's keyword arguments (--password 0xDEADBEEF, --interval 0.1...).
    Prints {"ready": true, "pty": "/dev/pts/N", "path": PATH} once the link exists, then reads one
    command a line from stdin: a method name and its arguments separated by spaces (hex for byte
    strings: `present DEADBEEF`, `garbage 1337 2`; numbers as 3, 0x4A or 0.5; `None`), or one of
    `log` (every frame received), `commands`, `sent`, `state`, `wait_command CODE [TIMEOUT]`,
    `wait_open [TIMEOUT [COUNT]]`, `set NAME VALUE` (an attribute, e.g. `set resend_on_nack
    false`). Answers each line with one JSON line: {"ok": true, "result": ...} or {"ok": false,
    "error": "..."}. Unplugs and exits at the end of stdin."""
    import json

    argv = sys.argv[1:] if argv is None else argv
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    if len(argv) < 2 or argv[0] not in _DEVICES:
        sys.stderr.write(serve.__doc__ + "\n")
        return 2
    kind, path, rest = argv[0], argv[1], argv[2:]
    kwargs = {}
    while rest:
        key = rest.pop(0)
        if not key.startswith("--"):
            sys.stderr.write(f"unexpected argument {key!r}\n")
            return 2
        key = key[2:]
        if "=" in key:
            key, val = key.split("=", 1)
        else:
            val = rest.pop(0) if rest else "true"
        kwargs[key.replace("-", "_")] = _value(val)

    def say(obj):
        stdout.write(json.dumps(obj) + "\n")
        stdout.flush()

    with _DEVICES[kind](path, **kwargs) as dev:
        say({"ready": True, "pty": dev.pty_name, "path": dev.path})
        for line in stdin:
            words = line.split()
            if not words:
                continue
            name, args = words[0], words[1:]
            try:
                values = [_value(a) for a in args]
                if name in _BYTES_ARG and args:
                    values[_BYTES_ARG[name]] = bytes.fromhex(args[_BYTES_ARG[name]])
                if name == "log":
                    result = list(dev.received)
                elif name == "sent":
                    result = [b for _, b in dev.sent]
                elif name == "state":
                    result = {k: v for k, v in vars(dev).items()
                              if not k.startswith("_") and k not in ("received", "sent",
                                                                     "dropped")}
                elif name == "set":
                    setattr(dev, args[0], values[1])
                    result = None
                elif name.startswith("_") or not callable(getattr(dev, name, None)):
                    raise ValueError(f"no command {name!r}")
                else:
                    result = getattr(dev, name)(*values)
                say({"ok": True, "result": _jsonable(result)})
            except Exception as e:  # report, keep serving
                say({"ok": False, "error": f"{type(e).__name__}: {e}"})
    return 0


if __name__ == "__main__":
    sys.exit(serve())
