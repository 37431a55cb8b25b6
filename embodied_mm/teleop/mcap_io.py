"""One episode's MCAP file: written with ROS 2 (CDR) encoding, read back even when truncated.

Messages are stored as the serialized bytes received (no re-encoding) with `ros2msg` schemas, so
`ros2 bag info`, Foxglove and `mcap_ros2` read the file. Chunks are small and are flushed
to the file as soon as they fill, so a killed process leaves every full chunk on disk;
`read_messages` reads such a file up to its last complete chunk and warns (logger
`embodied_mm.teleop.mcap_io`) naming the file and the byte offset where reading stopped. A
missing file, a folder, or a file that does not start as an MCAP is a `RecordingError`.

Example:
    python -c "from embodied_mm.teleop.mcap_io import read_messages; \
print(sum(1 for _ in read_messages('outputs/teleop/episode_0001.mcap')))"
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from mcap.exceptions import McapError
from mcap.reader import NonSeekingReader
from mcap.writer import CompressionType, Writer

from embodied_mm.ros.mcap_schema import ros_type, schema_text

CHUNK_BYTES = 64 * 1024  # small chunks: a crash loses at most this much
MAGIC = b"\x89MCAP0\r\n"
# What a file cut short or damaged mid-record raises while it is read (lz4: RuntimeError).
_BROKEN = (McapError, EOFError, ValueError, OSError, struct.error, RuntimeError)
log = logging.getLogger(__name__)


class RecordingError(ValueError):
    """An episode recording that cannot be read at all; the text names the file."""


class EpisodeWriter:
    """Writes one MCAP file; channels are registered on first use from `types`.

    Args:
        path: the file to create (its folder must exist).
        types: topic -> `pkg/Type` of every topic that may be written.
    """

    def __init__(self, path: str | Path, types: dict[str, str]) -> None:
        self.path = Path(path)
        self.types = dict(types)
        self._file = open(self.path, "wb")
        self._writer = Writer(self._file, chunk_size=CHUNK_BYTES,
                              compression=CompressionType.LZ4)
        self._writer.start(profile="ros2", library="embodied_mm.teleop")
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self.count = 0
        self.closed = False

    def write(self, topic: str, data: bytes, log_time_ns: int) -> None:
        """Adds one serialized message; raises KeyError for a topic not in `types`."""
        if self.closed:
            return
        if topic not in self._channels:
            type_name = self.types[topic]
            if type_name not in self._schemas:
                self._schemas[type_name] = self._writer.register_schema(
                    ros_type(type_name), "ros2msg", schema_text(type_name).encode())
            self._channels[topic] = self._writer.register_channel(
                topic, "cdr", self._schemas[type_name])
        self._writer.add_message(self._channels[topic], log_time=log_time_ns, data=data,
                                 publish_time=log_time_ns)
        self._file.flush()  # a chunk that just filled goes to disk now (a no-op otherwise)
        self.count += 1

    def close(self) -> None:
        """Writes the last chunk and the summary (a finalised file)."""
        if not self.closed:
            self.closed = True
            self._writer.finish()
            self._file.close()


def read_messages(path: str | Path, topics: Iterable[str] | None = None,
                  on_truncated: Callable[[int], None] | None = None
                  ) -> Iterator[tuple[str, int, Any]]:
    """(topic, log time ns, decoded ROS message) in file order, up to the last whole chunk.

    A file whose writer was killed has no summary and may end mid-record; reading stops there
    with a warning naming the file and the offset of the last good byte, which is also passed
    to `on_truncated`.

    Raises:
        RecordingError: the file is missing, a folder, or not an MCAP file.
    """
    from mcap_ros2.decoder import DecoderFactory

    path = Path(path)
    wanted = None if topics is None else set(topics)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise RecordingError(f"{path}: recording missing") from None
    except OSError as err:
        raise RecordingError(f"{path}: cannot read the recording ({err.strerror})") from None
    with f:
        head = f.read(len(MAGIC))
        if not MAGIC.startswith(head):
            raise RecordingError(f"{path}: not an MCAP file")
        if len(head) < len(MAGIC):  # killed before its header reached the disk
            log.warning("%s is truncated: read up to byte 0 of %d", path, len(head))
            if on_truncated is not None:
                on_truncated(0)
            return
        f.seek(0)
        reader = NonSeekingReader(f, validate_crcs=True, decoder_factories=[DecoderFactory()])
        good = 0  # the reader takes whole records: everything before this offset was read
        try:
            for _, channel, message, decoded in reader.iter_decoded_messages(
                    topics=None, log_time_order=False):
                good = f.tell()
                if wanted is None or channel.topic in wanted:
                    yield channel.topic, message.log_time, decoded
        except _BROKEN as err:
            size = path.stat().st_size
            log.warning("%s is truncated or damaged: read up to byte %d of %d (%s)", path,
                        good, size, type(err).__name__)
            if on_truncated is not None:
                on_truncated(good)
