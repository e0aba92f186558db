"""A browser-less Streamlit session: what the browser's JavaScript does over the app's websocket, in Python.

The browser and the server speak protobuf over `ws://HOST/_stcore/stream`: the browser sends a `BackMsg` whose
`rerun_script` carries the page to run and the widget values (a form's values go with its submit button's trigger),
and the server answers with `ForwardMsg`s (a `new_session`, the page's elements as deltas, the navigation) and ends
the run with `script_finished`. A script that calls `st.rerun()` ends its run early and starts again by itself; the
page a person sees is the one drawn by the last run, so `run` waits for that one. A widget inside an `st.fragment`
reruns only that fragment, as the browser asks (the `fragment_id` its deltas carried)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

RUN_TIMEOUT = 120.0  # seconds for one run: a run that takes longer is an error


class SessionError(Exception):
    """The page failed: an exception on it, a compile error, or no answer in time."""


@dataclass
class Page:
    """What the last run drew: its elements (kind, proto) in order, the navigation's pages (title -> script hash),
    the run's wall clock from the request to its end, and how many script runs it took (st.rerun adds one)."""

    elements: list[tuple[str, Any]] = field(default_factory=list)
    toasts: list[str] = field(default_factory=list)
    fragments: dict[str, str] = field(default_factory=dict)  # widget id -> the fragment that drew it
    pages: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    runs: int = 0

    def widget(self, kind: str, label_start: str) -> Any:
        """The first widget of this kind whose label starts so (a form's radios, its submit button ...)."""
        for found, element in self.elements:
            if found == kind and element.label.startswith(label_start):
                return element
        raise SessionError(f"no {kind} labelled {label_start!r} on the page: {self.texts()[:5]}")

    def alerts(self, level: str | None = None) -> list[str]:
        """Texts of st.success/info/warning/error boxes (level: the box's format name, e.g. 'SUCCESS')."""
        return [
            element.body
            for kind, element in self.elements
            if kind == "alert" and (level is None or element.Format.Name(element.format) == level)
        ]

    def texts(self) -> list[str]:
        return [element.body for kind, element in self.elements if kind in ("markdown", "heading", "alert")]

    def exceptions(self) -> list[str]:
        return [f"{element.type}: {element.message}" for kind, element in self.elements if kind == "exception"]


class BrowserlessSession:
    """One Streamlit session (one browser tab) on its own websocket; the server keeps its session state."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.stream_url = base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.pages: dict[str, str] = {}
        self.page_hash = ""
        self._ws: Any = None

    async def __aenter__(self) -> BrowserlessSession:
        self._ws = await websockets.connect(self.stream_url, subprotocols=["streamlit"], max_size=None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()

    async def open(self, title: str | None = None) -> Page:
        """Load the app (title None: its default page) or a page of its navigation, as a click on its link does."""
        if title is not None and title not in self.pages:
            raise SessionError(f"no page {title!r} in the navigation: {sorted(self.pages)}")
        self.page_hash = self.pages[title] if title else ""
        return await self.run()

    async def run(self, widgets: Iterable[WidgetState] = (), fragment_id: str = "") -> Page:
        """Rerun the current page (or one fragment of it) with these widget values; what its last run drew."""
        state = ClientState(
            page_script_hash=self.page_hash,
            widget_states=WidgetStates(widgets=list(widgets)),
            context_info=ContextInfo(timezone="UTC", timezone_offset=0, locale="en-US", url=self.base_url),
            fragment_id=fragment_id,
        )
        started = perf_counter()
        await self._ws.send(BackMsg(rerun_script=state).SerializeToString())
        page = Page()
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self._receive())
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                page.elements, page.runs = [], page.runs + 1
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                drawn = getattr(element, element.WhichOneof("type"))
                page.elements.append((element.WhichOneof("type"), drawn))
                if element.WhichOneof("type") == "toast":
                    page.toasts.append(drawn.body)
                if msg.delta.fragment_id and getattr(drawn, "id", ""):
                    page.fragments[drawn.id] = msg.delta.fragment_id
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_transient":
                page.toasts += [
                    e.toast.body for e in msg.delta.new_transient.elements if e.WhichOneof("type") == "toast"
                ]
            elif kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
                page.pages = dict(self.pages)
                if msg.navigation.page_script_hash:
                    self.page_hash = msg.navigation.page_script_hash
            elif kind == "script_finished":
                status = msg.script_finished
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue
                page.seconds = perf_counter() - started
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise SessionError("the page did not compile")
                if page.exceptions():
                    raise SessionError(page.exceptions()[0])
                return page

    async def _receive(self) -> bytes:
        try:
            return await asyncio.wait_for(self._ws.recv(), RUN_TIMEOUT)
        except TimeoutError as error:
            raise SessionError(f"no end of the run within {RUN_TIMEOUT:.0f} s") from error


def trigger(element: Any) -> WidgetState:
    """A button's click (a form's submit button sends the form's values with it)."""
    return WidgetState(id=element.id, trigger_value=True)


def press(element: Any, index: int) -> WidgetState:
    """A segmented control's or pills' option, by position (sent as its text, in a list)."""
    return WidgetState(id=element.id, string_array_value={"data": [element.options[index].content]})


def write(element: Any, value: str) -> WidgetState:
    """A text input's or text area's value."""
    return WidgetState(id=element.id, string_value=value)
