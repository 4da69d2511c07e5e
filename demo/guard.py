"""What a client may send to the app, fetch from it and leave behind on it (issue #14, "Hardening the server").

- `GuardedBlocks` (gr.Blocks): every event's raw payload is checked before gradio converts it — the number of
  inputs, and for /analyze and /sing the transcript, flags and weights (esmr_core.inputs) — and whatever gradio
  itself refuses (a path that was not uploaded, an upload that is gone, a malformed file object) becomes one
  readable message instead of `{"error": null}`. A non-audio upload that the analysis rejects is deleted at once.
- `ServerGuard` (ASGI middleware): one audio file per upload request, at most `Limits.upload_file_bytes`; the
  uploads held on disk are capped in bytes and files and deleted after `Limits.upload_max_age_s`; a leading dot
  is taken off an uploaded file's name (gradio refuses to read dot-files when its temp folder lies under the
  working directory); API bodies are capped; `/media/...` serves exactly the audio the page and API results name.
- `Media`: the catalogue, song and reference-voice audio files, each under a relative URL `media/<collection>/<path
  inside it>`. Results name files by these URLs, never by server paths; manifests and feature files are not served.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import mimetypes
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.exceptions import InvalidPathError
from gradio.utils import get_upload_folder

from esmr_core.files import AUDIO_EXTENSIONS
from esmr_core import inputs
from esmr_core.audio import MAX_BYTES, NotAudioError
from esmr_core.errors import EsmrError

log = logging.getLogger("esmr.demo")
MULTIPART_SLACK = 64 * 1024     # bytes of multipart framing allowed on top of one file in an upload request
MEDIA_PREFIX = "media"
PRUNE_AFTER_S = 5               # an empty upload folder is removed once it has been untouched this long
AUDIO_SUFFIXES = AUDIO_EXTENSIONS   # the only files the media route serves (and only from the allowed folders)
mimetypes.add_type("audio/ogg", ".opus")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 1:
        raise EsmrError(f"{name} must be a whole number >= 1, got {raw!r}; fix or unset it")
    return value


@dataclass(frozen=True)
class Limits:
    """What the server accepts. from_env() reads the ESMR_* overrides listed in the README ("Limits")."""
    upload_file_bytes: int = MAX_BYTES              # one audio file (gradio's max_file_size too)
    upload_files_per_request: int = 1
    upload_store_bytes: int = 512 * 2**20           # all uploads held on disk at once
    upload_store_files: int = 1000
    upload_max_age_s: int = 600                     # an upload is deleted this long after it arrived
    sweep_every_s: int = 30
    api_body_bytes: int = 256 * 1024                # any other request body (a 2,000-character transcript is < 25 KB)
    queue_size: int = 32                            # requests waiting beyond this are refused with "queue full"
    concurrency: int = 2                            # analyses run at once (one per core here)
    sessions: int = 300                             # sessions whose state is kept (~170 KB each; gradio: 10,000)

    @classmethod
    def from_env(cls) -> Limits:
        return cls(upload_store_bytes=_env_int("ESMR_UPLOAD_STORE_MB", 512) * 2**20,
                   upload_max_age_s=_env_int("ESMR_UPLOAD_MAX_AGE_S", 600),
                   queue_size=_env_int("ESMR_QUEUE_SIZE", 32),
                   concurrency=_env_int("ESMR_CONCURRENCY", 2),
                   sessions=_env_int("ESMR_SESSIONS", 300))


# ---- the audio a client may fetch ---------------------------------------------------------------------------
class Media:
    """The audio files of named collections (catalogue, songs, reference voices) by relative URL
    "media/<collection>/<path inside it>" and back. Only audio files inside a collection's folder are named or
    served: never its manifest, features or anything outside it (paths are normalised, not followed)."""

    def __init__(self) -> None:
        self._roots: dict[str, str] = {}

    def add(self, name: str, root: str | Path) -> None:
        self._roots[name] = os.path.abspath(root)

    @staticmethod
    def _audio(path: str) -> bool:
        return os.path.splitext(path)[1].lower() in AUDIO_SUFFIXES

    def url(self, path: str | Path | None) -> str | None:
        """The relative URL of an audio file inside a collection (None for anything else)."""
        if path is None:
            return None
        full = os.path.abspath(path)
        if not self._audio(full):
            return None
        for name, root in self._roots.items():
            if full.startswith(root + os.sep):
                return f"{MEDIA_PREFIX}/{name}/{Path(full[len(root) + 1:]).as_posix()}"
        return None

    def path(self, url: Any) -> str | None:
        """The server file behind a media URL (None for anything else, so a crafted result names nothing)."""
        if not isinstance(url, str):
            return None
        prefix, _, rest = url.lstrip("/").partition("/")
        name, _, rel = rest.partition("/")
        root = self._roots.get(name)
        if prefix != MEDIA_PREFIX or root is None or not rel or "\0" in rel:
            return None
        full = os.path.abspath(os.path.join(root, rel))
        if not full.startswith(root + os.sep) or not self._audio(full) or not os.path.isfile(full):
            return None
        return full

    def allowed_paths(self) -> list[str]:
        """For gradio's allowed_paths (needed when a collection lies outside the working directory): each folder
        of a collection that holds only audio files and no subfolders, else that folder's audio files."""
        out: list[str] = []
        for root in self._roots.values():
            for folder, dirs, files in os.walk(root):
                audio = [f for f in files if self._audio(f)]
                if audio and len(audio) == len(files) and not dirs:
                    out.append(folder)
                else:
                    out.extend(os.path.join(folder, f) for f in audio)
        return sorted(set(out))


def media_of(svc) -> Media:
    """The collections whose audio the page plays or a result names: the music catalogue, the songs (backings
    and guide vocals) and the reference voices shown on the map."""
    media = Media()
    media.add("music", svc.catalog.root)
    if svc.singer is not None:
        media.add("songs", svc.singer.songs_dir)
    media.add("voices", svc.config.reference)
    return media


# ---- uploads held on disk -----------------------------------------------------------------------------------
class UploadStore:
    """The uploads gradio tracks for this app (blocks.upload_file_set): counted, capped, aged out, discarded."""

    def __init__(self, blocks: gr.Blocks, limits: Limits) -> None:
        self.blocks = blocks
        self.limits = limits
        self._lock = threading.Lock()
        self._reserved = 0

    @property
    def folder(self) -> Path:
        return Path(get_upload_folder())

    def _tracked(self) -> list[str]:
        return [str(p) for p in list(self.blocks.upload_file_set)]

    def usage(self) -> tuple[int, int]:
        """(files, bytes) of the uploads on disk now."""
        files = size = 0
        for p in self._tracked():
            try:
                size += os.stat(p).st_size
                files += 1
            except OSError:
                continue
        return files, size

    def owns(self, path: Any) -> bool:
        return isinstance(path, str) and path in self.blocks.upload_file_set

    def discard(self, path: str) -> bool:
        """Delete one upload now (and its folder when empty). False when it is not an upload of this app."""
        if not self.owns(path):
            return False
        self.blocks.upload_file_set.discard(path)
        with contextlib.suppress(OSError):
            os.remove(path)
        self._prune(Path(path).parent)
        return True

    def _prune(self, folder: Path) -> None:
        """Remove an empty per-upload folder (gradio makes one per file hash) inside the upload folder."""
        if folder.parent == self.folder:
            with contextlib.suppress(OSError):
                folder.rmdir()

    def sweep(self, max_age_s: float | None = None) -> int:
        """Delete the uploads older than max_age_s (default limits.upload_max_age_s; 0: all), then the empty
        per-file folders left by any deletion (gradio's delete_cache too). -> number of uploads deleted."""
        age = self.limits.upload_max_age_s if max_age_s is None else max_age_s
        now, gone = time.time(), 0
        for p in self._tracked():
            try:
                old = now - os.lstat(p).st_ctime >= age
            except FileNotFoundError:
                self.blocks.upload_file_set.discard(p)
                continue
            if old and self.discard(p):
                gone += 1
        # a folder untouched for PRUNE_AFTER_S: not one gradio has just made for a file it is about to move in
        with contextlib.suppress(OSError), os.scandir(self.folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False) and now - entry.stat().st_mtime > PRUNE_AFTER_S:
                        os.rmdir(entry.path)   # fails, harmlessly, when it is not empty
        return gone

    def reserve(self, nbytes: int) -> str | None:
        """Make room for an upload of nbytes: None when admitted (release() it afterwards), else why not."""
        with self._lock:
            files, size = self.usage()
            if files >= self.limits.upload_store_files or size + self._reserved + nbytes > self.limits.upload_store_bytes:
                self.sweep()
                files, size = self.usage()
            if files >= self.limits.upload_store_files or size + self._reserved + nbytes > self.limits.upload_store_bytes:
                return (f"the server's upload space is full ({size / 2**20:.0f} MB in {files} files held; the limit is "
                        f"{self.limits.upload_store_bytes / 2**20:.0f} MB and {self.limits.upload_store_files} "
                        f"files, each kept at most {self.limits.upload_max_age_s // 60} min); try again in a few "
                        "minutes")
            self._reserved += nbytes
            return None

    def release(self, nbytes: int) -> None:
        with self._lock:
            self._reserved = max(0, self._reserved - nbytes)

    def undot(self, path: str) -> str:
        """An upload whose name starts with '.' renamed without the dot(s) (gradio refuses to read dot-files
        when its temp folder is under the working directory); other paths unchanged."""
        p = Path(path)
        if not p.name.startswith(".") or not self.owns(path):
            return path
        new = p.with_name(p.name.lstrip(".") or "upload")
        try:
            os.replace(p, new)
        except OSError:
            return path
        self.blocks.upload_file_set.discard(path)
        self.blocks.upload_file_set.add(str(new))
        return str(new)


# ---- payload checks -----------------------------------------------------------------------------------------
def expect_count(data: Sequence[Any], names: Sequence[str], endpoint: str) -> None:
    if len(data) != len(names):
        raise EsmrError(f"{endpoint} takes {len(names)} inputs ({', '.join(names)}), got {len(data)}; send them in "
                        "that order (the app's API page, linked at the foot of the page, lists them)")


def audio_payload(value: Any, name: str = "audio") -> None:
    """An audio input as gradio receives it: null (no audio) or an uploaded-file object."""
    if value is None:
        return
    if isinstance(value, str):
        raise EsmrError(f"{name} must be an uploaded file object, got a plain string; upload the file first (POST "
                        "/gradio_api/upload, or gradio_client.handle_file) and send {\"path\": the path it returns, "
                        "\"meta\": {\"_type\": \"gradio.FileData\"}}")
    if not isinstance(value, dict) or not isinstance(value.get("path"), str) or not value["path"]:
        raise EsmrError(f"{name} must be an uploaded file object {{\"path\": ..., \"meta\": {{\"_type\": "
                        f"\"gradio.FileData\"}}}}, got {inputs.describe(value)}; upload the file first (POST "
                        "/gradio_api/upload, or gradio_client.handle_file)")


def checked(check: Callable[[list[Any]], None]):
    """Attach `check(raw_inputs)` to an event function: GuardedBlocks runs it on the raw payload."""
    def mark(fn):
        fn.check_payload = check
        return fn
    return mark


class RejectedInput(gr.Error):
    """gr.Error for an input file that is not usable audio: its upload is deleted at once."""


class GuardedBlocks(gr.Blocks):
    """gr.Blocks whose events check their raw payload first and turn gradio's own refusals into messages."""

    def __init__(self, *args: Any, limits: Limits | None = None, media: Media | None = None, **kwargs: Any):
        self.limits = limits or Limits.from_env()
        self.media = media or Media()
        kwargs.setdefault("delete_cache", (self.limits.sweep_every_s, self.limits.upload_max_age_s))
        super().__init__(*args, **kwargs)
        self.uploads = UploadStore(self, self.limits)

    def _gone_message(self) -> str:
        return (f"the uploaded audio is no longer on this server (uploads are deleted after "
                f"{self.limits.upload_max_age_s // 60} min, or at once when they are not audio); upload it again")

    async def preprocess_data(self, block_fn, inputs_, state, explicit_call: bool = False):  # noqa: D401
        endpoint = f"/{block_fn.api_name}" if block_fn.api_name else "this event"
        try:
            if not explicit_call:
                check = getattr(block_fn.fn, "check_payload", None)
                if check is not None:
                    check(list(inputs_))
                else:
                    expect_count(inputs_, [getattr(b, "label", None) or type(b).__name__.lower()
                                           for b in block_fn.inputs], endpoint)
            out = await super().preprocess_data(block_fn, inputs_, state, explicit_call)
            for block, value in zip(block_fn.inputs, out):
                if isinstance(block, gr.Audio) and isinstance(value, str) and not os.path.isfile(value):
                    raise EsmrError(self._gone_message())
            return out
        except gr.Error:
            raise
        except EsmrError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except InvalidPathError as exc:
            if "Dotfiles" in str(exc):
                raise gr.Error("a file whose name starts with a dot cannot be read here; rename it and upload it again",
                               print_exception=False) from None
            raise gr.Error("the audio file was not uploaded to this server; upload it first (POST /gradio_api/upload, "
                           "or gradio_client.handle_file) and send the path that the upload returns",
                           print_exception=False) from None
        except FileNotFoundError:
            raise gr.Error(self._gone_message(), print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - gradio's conversion of a malformed value
            log.warning("refused the inputs of %s: %s: %s", endpoint, type(exc).__name__, str(exc)[:300])
            raise gr.Error(f"an input of {endpoint} could not be read ({type(exc).__name__}); send the values the "
                           "app's API page lists (linked at the foot of the page)", print_exception=False) from None

    async def call_function(self, block_fn, processed_input, *args: Any, **kwargs: Any):
        try:
            return await super().call_function(block_fn, processed_input, *args, **kwargs)
        except RejectedInput:
            for value in processed_input if isinstance(processed_input, list) else []:
                self.uploads.discard(value)
            raise


GENERIC_ERROR = ("Something went wrong on our side while processing this request (it has been logged). "
                 "Try again, or try another clip.")


def user_errors(fn):
    """EsmrError -> gr.Error with its message (shown in the page / raised as AppError in gradio_client); an input
    that is not usable audio -> RejectedInput (its upload is deleted); anything else is logged with its traceback
    and the user sees a generic message, never the traceback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except NotAudioError as exc:
            raise RejectedInput(str(exc), print_exception=False) from None
        except EsmrError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception:  # noqa: BLE001 - the last line of defence of the page
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(GENERIC_ERROR, print_exception=False) from None
    return wrapper


# ---- the HTTP layer -----------------------------------------------------------------------------------------
def _json_response(status: int, detail: str, extra_headers: Sequence[tuple[bytes, bytes]] = ()):
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *extra_headers]
    return {"type": "http.response.start", "status": status, "headers": headers}, \
        {"type": "http.response.body", "body": body}


class ServerGuard:
    """ASGI middleware in front of gradio's routes (passed to launch() as app_kwargs["middleware"])."""

    def __init__(self, app, blocks: GuardedBlocks) -> None:
        self.app = app
        self.blocks = blocks

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        root = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root):]
        method = scope["method"]
        if method in ("GET", "HEAD") and path.startswith(f"/{MEDIA_PREFIX}/"):
            return await self._media(path, scope, receive, send)
        if method == "POST" and path.rstrip("/").endswith("/upload"):
            return await self._upload(scope, receive, send)
        if method in ("POST", "PUT", "PATCH"):
            return await self._bounded(scope, receive, send)
        return await self.app(scope, receive, send)

    @staticmethod
    async def _reply(send, status: int, detail: str, *headers: tuple[bytes, bytes]) -> None:
        start, body = _json_response(status, detail, headers)
        await send(start)
        await send(body)

    @staticmethod
    def _length(scope) -> int | None:
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    return int(v)
                except ValueError:
                    return -1
        return None

    async def _media(self, path, scope, receive, send):
        from urllib.parse import unquote

        from starlette.responses import FileResponse

        file = self.blocks.media.path(unquote(path))
        if file is None:
            return await self._reply(send, 404, "no such audio file here; the media URLs to fetch are the ones the "
                                                "/analyze and /sing results name")
        media_type = mimetypes.guess_type(file)[0] or "application/octet-stream"
        response = FileResponse(file, media_type=media_type, content_disposition_type="inline",
                                filename=Path(file).name)
        return await response(scope, receive, send)

    async def _bounded(self, scope, receive, send):
        """Any other request body: at most limits.api_body_bytes (read up to that when no length is given)."""
        cap = self.blocks.limits.api_body_bytes
        length = self._length(scope)
        too_big = (f"the request body is over the {cap // 1024} KB limit of an API call; a transcript may have at "
                   f"most {inputs.max_transcript_chars():,} characters, and audio goes through POST "
                   "/gradio_api/upload")
        if length is not None:
            if length > cap:
                return await self._reply(send, 413, too_big)
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > cap:
                return await self._reply(send, 413, too_big)
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _upload(self, scope, receive, send):
        limits, store = self.blocks.limits, self.blocks.uploads
        length = self._length(scope)
        mb = limits.upload_file_bytes / 2**20
        mb = f"{mb:.0f}" if mb >= 1 else f"{mb:.3g}"
        if length is None or length < 0:
            return await self._reply(send, 411, "an upload needs a Content-Length header; send the file as "
                                                "multipart/form-data (gradio_client.handle_file does)")
        if length > limits.upload_file_bytes + MULTIPART_SLACK:
            return await self._reply(send, 413, f"the upload is {length / 2**20:.1f} MB; one upload carries one audio "
                                                f"file of at most {mb} MB: upload a shorter clip or a "
                                                "compressed format such as MP3")
        refused = store.reserve(length)
        if refused:
            return await self._reply(send, 507, refused, (b"retry-after", b"120"))
        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        finally:
            store.release(length)
        body = b"".join(parts)
        if start.get("status") == 200:
            try:
                paths = json.loads(body)
            except ValueError:
                paths = None
            if isinstance(paths, list) and all(isinstance(p, str) for p in paths):
                if len(paths) > limits.upload_files_per_request:
                    for p in paths:
                        store.discard(p)
                    return await self._reply(send, 413, f"one upload request carries at most "
                                                        f"{limits.upload_files_per_request} file(s), got {len(paths)}; "
                                                        "upload them one at a time")
                body = json.dumps([store.undot(p) for p in paths]).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": start.get("status", 500), "headers": headers})
        await send({"type": "http.response.body", "body": body})


def lifespan_for(blocks: GuardedBlocks):
    """FastAPI lifespan: sweep aged uploads every limits.sweep_every_s while serving; delete them all at the end."""
    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def loop():
            while True:
                await asyncio.sleep(blocks.limits.sweep_every_s)
                try:
                    await asyncio.to_thread(blocks.uploads.sweep)
                except Exception:  # noqa: BLE001 - a sweep must never stop the server
                    log.exception("upload sweep failed")

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            blocks.uploads.sweep(0)
    return lifespan
