"""Node ids as the tag map writes them, turned into ids the server can be asked about.

`nsu=<uri>;s=...` names the namespace by its URI. asyncua parses that into an
ExpandedNodeId with namespace index 0 and would send the URI along, which a NodeId on
the wire may not carry: FreeOpcUa then looks in namespace 0 (BadNodeIdUnknown), and
node-opcua cannot decode the whole request, so every tag of the source failed. The URI
is looked up in the server's namespace array instead, read again on every connect
because a server may number its namespaces differently after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from asyncua import ua


class NodeIdError(ValueError):
    """A node id that names nothing this server can be asked about; the text says why."""


def needs_namespace_array(texts: Iterable[str]) -> bool:
    return any(text.startswith("nsu=") for text in texts)


def parse_node_id(text: str, namespaces: Sequence[str] | None) -> ua.NodeId:
    """The node id `text` names on a server whose namespace array is `namespaces`.

    `namespaces` may be None only when no text has a namespace URI.
    """
    try:
        parsed = ua.NodeId.from_string(text)
    except Exception as exc:  # asyncua raises UaStringParsingError, ValueError or KeyError
        raise NodeIdError(f"BadNodeIdInvalid: {text!r} is not a node id: {exc}") from exc
    uri = getattr(parsed, "NamespaceUri", None)
    if not uri:
        # A plain NodeId, so nothing but the identifier and index goes on the wire.
        return ua.NodeId(parsed.Identifier, parsed.NamespaceIndex, parsed.NodeIdType)
    if namespaces is None:
        raise NodeIdError(f"BadNodeIdUnknown: the server's namespace array could not be read, "
                          f"so the namespace {uri!r} of {text!r} cannot be resolved")
    try:
        index = list(namespaces).index(uri)
    except ValueError:
        raise NodeIdError(f"BadNodeIdUnknown: the server has no namespace {uri!r} ({text!r}); "
                          f"its namespaces are {', '.join(namespaces)}") from None
    # NamespaceIndex is annotated Int16, a NewType over int: no range check happens here.
    return ua.NodeId(parsed.Identifier, ua.Int16(index), parsed.NodeIdType)


@dataclass
class ResolvedTags:
    """Each node with the tags that name it (two strings may name one node), and the tags that name none."""

    tags_by_node: dict[ua.NodeId, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def resolve_tags(tags: Iterable[str], namespaces: Sequence[str] | None) -> ResolvedTags:
    resolved = ResolvedTags()
    for tag in tags:
        try:
            node_id = parse_node_id(tag, namespaces)
        except NodeIdError as exc:
            resolved.errors[tag] = str(exc)
            continue
        resolved.tags_by_node.setdefault(node_id, []).append(tag)
    return resolved
