"""Reading S3 objects, through obstore when it is installed and through boto3 when it is not:
the same bytes, the same reasons for an object that cannot be read, and a read that breaks
off goes on from where it stopped."""

from __future__ import annotations

import os
import pickle
import socket
import sys
import threading
from contextlib import suppress

import pytest

from support.moto import s3_client
from trailhound.sources import Blob, Unreadable, open_source
from trailhound.sources.aws import forget_clients
from trailhound.sources.s3 import open_object
from trailhound.sources.s3_objects import ObjectReader, Place

BUCKET = "objects-both-ways"


@pytest.fixture(params=["obstore", "boto3"])
def reader(request: pytest.FixtureRequest, aws: str,
           monkeypatch: pytest.MonkeyPatch) -> str:  # fmt: skip
    """Which client reads objects: obstore, or boto3 with obstore made unimportable."""
    if request.param == "obstore":
        pytest.importorskip("obstore")
    else:
        monkeypatch.setitem(sys.modules, "obstore", None)  # import obstore raises ImportError
    return str(request.param)


@pytest.fixture(scope="module")
def bucket(aws: str) -> str:
    s3_client().create_bucket(Bucket=BUCKET)
    return BUCKET


def put(key: str, body: bytes) -> str:
    """Put an object; returns its ETag, unquoted."""
    return str(s3_client().put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"]).strip('"')


def only_blob(spec: str) -> Blob:
    [blob] = open_source(spec).blobs()
    assert isinstance(blob, Blob)
    return blob


def test_an_object_reads_whole_in_pieces_by_the_client_installed(bucket: str, reader: str) -> None:
    body = os.urandom(3 << 20)  # more than one piece of the response body
    put(f"{reader}/big.bin", body)
    blob = only_blob(f"s3://{bucket}/{reader}/big.bin")
    with blob.opener() as stream:
        assert isinstance(stream, ObjectReader) == (reader == "obstore")
        assert stream.read(0) == b""
        first = stream.read(1000)
        assert first == body[:1000] and stream.read() == body[1000:] and stream.read() == b""
    travelled = pickle.loads(pickle.dumps(blob))
    assert b"".join(travelled.chunks()) == body


def test_a_deleted_or_replaced_object_is_unreadable_for_the_same_reason(
    bucket: str, reader: str
) -> None:
    for name in ["gone", "replaced"]:
        put(f"{reader}/{name}.json", b'{"Records": []}')
    gone = only_blob(f"s3://{bucket}/{reader}/gone.json")
    replaced = only_blob(f"s3://{bucket}/{reader}/replaced.json")
    s3_client().delete_object(Bucket=bucket, Key=f"{reader}/gone.json")
    put(f"{reader}/replaced.json", b'{"Records": [ ]}')
    with pytest.raises(Unreadable, match=r"^no such object$"):
        b"".join(gone.chunks())
    with pytest.raises(Unreadable, match=r"^the object was replaced since it was listed$"):
        b"".join(replaced.chunks())


class CuttingProxy:
    """A TCP proxy to moto that cuts off the first `cuts` connections asking for `path`
    after `keep` bytes of the answer; every other connection passes whole."""

    def __init__(self, endpoint: str, path: str, cuts: int, keep: int) -> None:
        host, port = endpoint.removeprefix("http://").split(":")
        self._target = (host, int(port))
        self._path, self._cuts, self._keep = path.encode(), cuts, keep
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.cut = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        with suppress(OSError):
            while True:
                conn, _ = self._listener.accept()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, socket.create_connection(self._target) as upstream, suppress(OSError):
            head = b""
            while b"\r\n\r\n" not in head and (data := conn.recv(65536)):
                head += data
            upstream.sendall(head)
            cutting = self._path in head.split(b"\r\n", 1)[0] and self.cut < self._cuts
            if cutting:
                self.cut += 1
                self._relay(upstream, conn, self._keep)
                return
            threading.Thread(target=self._relay, args=(conn, upstream), daemon=True).start()
            self._relay(upstream, conn)

    @staticmethod
    def _relay(source: socket.socket, sink: socket.socket, limit: int | None = None) -> None:
        sent = 0
        with suppress(OSError):
            while (limit is None or sent < limit) and (data := source.recv(65536)):
                data = data if limit is None else data[: limit - sent]
                sink.sendall(data)
                sent += len(data)
            sink.shutdown(socket.SHUT_RDWR)


def test_a_read_broken_off_goes_on_where_it_stopped(
    bucket: str, reader: str, aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = os.urandom(1 << 20)
    etag = put("cut/object.bin", body)
    proxy = CuttingProxy(aws, f"/{bucket}/cut/object.bin", cuts=2, keep=100_000)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    forget_clients()  # boto3's next client talks to the proxy
    try:
        place = Place(bucket, "us-east-1", proxy.endpoint) if reader == "obstore" else None
        with open_object(bucket, "cut/object.bin", etag, place) as stream:
            assert stream.read() == body
        assert proxy.cut == 2
    finally:
        proxy.close()
        forget_clients()
