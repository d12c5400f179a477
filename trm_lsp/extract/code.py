"""Code and web/config files -> `Item`s, through tree-sitter and the tags queries in grammars/.

Every query marks a definition with `@definition.<kind>` and its name with `@name`. This module
adds what a query cannot express: nesting (parents and `Outer.Inner.method` qualnames), methods
told apart from functions by their parent, decorators and single-spec wrappers folded into the
range, C/C++ declarator chains, Go receivers, signatures, docstrings and leading comments.
"""

from __future__ import annotations

import hashlib
import re

from trm_lsp.extract import deadline
from trm_lsp.extract.items import Item
from trm_lsp.extract.languages import BY_ID, definition_roots, ts_parser, ts_query

_CLASSLIKE = frozenset({"class", "interface", "struct", "union", "enum", "trait", "impl"})
#: Kinds whose name prefixes the qualnames of what they contain: `api.get` for a method of an
#: object literal `const api = {...}`, `Color.RED.code` for one of a Java enum constant's body.
_SCOPES = _CLASSLIKE | {"function", "method", "module", "constant", "variable"}
_CODE_FAMILY = frozenset({"python", "javascript", "typescript", "tsx", "java", "go", "c", "cpp", "rust", "bash"})

# Nodes that wrap a definition and belong to its range: decorators, templates, single-spec groups,
# `export` (and the decorators a TypeScript class has inside it), `extern "C" void f()`. The doc
# comment is read above the wrapper: above `export function f`, not above `function f`.
_ALWAYS_WRAP = {"python": {"decorated_definition"}, "cpp": {"template_declaration", "linkage_specification"},
                "c": {"linkage_specification"}, "javascript": {"export_statement"},
                "typescript": {"export_statement"}, "tsx": {"export_statement"}}
_WRAP_IF_SINGLE = {
    "go": {"type_declaration", "const_declaration", "var_declaration"},
    "javascript": {"lexical_declaration", "variable_declaration"},
    "typescript": {"lexical_declaration", "variable_declaration"},
    "tsx": {"lexical_declaration", "variable_declaration"},
    "rust": set(),
}
# Rust attributes (`#[derive(..)]`) are siblings in front of the item, like decorators; so are a
# TypeScript class member's decorators (JavaScript's are inside the member).
_LEADING_SIBLINGS = {"rust": {"attribute_item"}, "typescript": {"decorator"}, "tsx": {"decorator"}}

_WS = re.compile(r"\s+")
_COMMENT_MARKS = re.compile(r"^\s*(?:/\*+!?|\*+(?!/)|//+[/!]?|#+|<!--|--)\s?|\s*(?:\*+/|-->)\s*$")
_MAX_SIGNATURE = 240


class _Def:
    __slots__ = ("node", "outer", "kind", "name", "scope", "start", "end", "parent", "qualname")

    def __init__(self, node, outer, kind: str, name: str, scope: str | None) -> None:
        self.node = node
        self.outer = outer
        self.kind = kind
        self.name = name
        self.scope = scope
        self.start = outer.start_byte
        self.end = outer.end_byte
        self.parent: _Def | None = None
        self.qualname = name


def extract_code(language_id: str, data: bytes, max_doc_chars: int = 600, valid_utf8: bool | None = None,
                 notes: list[str] | None = None) -> list[Item]:
    """All definitions in `data`, outermost first, in source order.

    Invalid UTF-8 is replaced (U+FFFD) before parsing, so names, text and hashes agree; such
    items carry their text, since byte offsets no longer match the file on disk. `notes` gets
    where a data file (JSON, YAML, XML, ...) stops parsing: its keys after that may be missing,
    which a user would otherwise not know (code half typed in an editor is not noted).
    """
    ascii = data.isascii()
    if valid_utf8 is None:
        valid_utf8 = ascii or _is_utf8(data)
    if not valid_utf8:
        data = data.decode("utf-8", "replace").encode("utf-8")
    tree = _parse(language_id, data)
    defs = _definitions(language_id, tree.root_node, data)
    if tree.root_node.has_error:
        defs = _recovered(language_id, data) or defs
        line = _first_error_line(tree.root_node) if notes is not None and language_id in _NOTED else None
        if line is not None:
            notes.append(f"syntax error at line {line}: what follows it may be missing")
    _nest(defs, nested_names=language_id in _CODE_FAMILY)
    if language_id in _OVERLOAD_STUB:
        defs = _fold_overloads(defs, _OVERLOAD_STUB[language_id])
    own = _sharing_a_line(defs)
    items = [_item(language_id, d, data, max_doc_chars, ascii, i in own) for i, d in enumerate(defs)]
    if not valid_utf8:
        items = [it._replace(text=data[it.start_byte : it.end_byte].decode("utf-8")) for it in items]
    return items


def syntax_error_line(language_id: str, data: bytes) -> int | None:
    """The first line of code that does not parse, None when it all does: why a definition a
    user points at is missing (the index recovers the rest of the file and says nothing, as
    code half typed in an editor would otherwise fill its report)."""
    root = _parse(language_id, data).root_node
    return _first_error_line(root) if root.has_error else None


def _parse(language_id: str, data: bytes):
    source = _macros_blanked(data) if language_id in ("c", "cpp") else data
    tree = ts_parser(language_id).parse(deadline.reader(source))
    deadline.check()
    return tree


def _definitions(language_id: str, root, data: bytes) -> list[_Def]:
    query = ts_query(language_id)
    always = _ALWAYS_WRAP.get(language_id, ())
    if_single = _WRAP_IF_SINGLE.get(language_id, ())
    leading = _LEADING_SIBLINGS.get(language_id, ())
    # The same node can match several patterns; the first pattern in the query file wins.
    best: dict[int, tuple] = {}
    def_capture: dict[int, tuple[str, str]] = {}  # pattern -> (capture name, kind)
    for pattern, caps in _matches(language_id, query, root):
        names = caps.get("name")
        if names is None:
            continue
        found = def_capture.get(pattern)
        if found is None:
            cap = next(c for c in caps if c.startswith("definition."))
            found = def_capture[pattern] = (cap, cap[11:])
        node = caps[found[0]][0]
        key = node.id
        previous = best.get(key)
        if previous is None or pattern < previous[0]:
            receiver = caps.get("receiver")
            best[key] = (pattern, node, found[1], names[0], receiver[0] if receiver else None)
    defs: list[_Def] = []
    declarators = language_id in ("c", "cpp")
    for _, node, kind, name_node, receiver in best.values():
        name, scope = _name(language_id, name_node, data, declarators)
        if not name:
            continue
        if receiver is not None:
            scope = _bare_type(receiver.text.decode("utf-8", "replace"))
        defs.append(_Def(node, _outer(node, always, if_single, leading), kind, name, scope))
    defs.sort(key=lambda d: (d.start, -d.end))
    return defs


# Where C and C++ code puts a macro the parser cannot expand (it sees no `#define` in the file):
# a line of its own (`_GLIBCXX_BEGIN_NAMESPACE_VERSION`, `CONSTEXPR` above a return type), after
# a function's parameters (`void clear() NOEXCEPT {`, `) Q_DECL_OVERRIDE;`), between `class` or
# `namespace` and the name (`class Q_CORE_EXPORT QObject`, `namespace std VISIBILITY(default)`).
# tree-sitter takes them for names: 39 functions of libstdc++'s list and string headers were
# called `_GLIBCXX_NOEXCEPT`, and a macro line before a template lost the template. As ctags'
# `-I`, they are blanked (spaces, so every offset holds) in what is parsed; names, text and
# hashes are read from the file as it is.
_MACRO = rb"[A-Z_][A-Z0-9_]{2,}(?:\([^()\n]*\))?"
_MACROS = (
    # not one a body follows: `PHP_FUNCTION(strlen)` or `TEST_F(Suite, Case)` above a `{` is the definition
    re.compile(rb"^[ \t]*(" + _MACRO + rb")[ \t]*$(?!\s*\{)", re.MULTILINE),
    re.compile(rb"\)(?:\s*(?:const|volatile|&&?|noexcept|override|final)\b)*\s*(" + _MACRO
               + rb")(?=\s*(?:[{;:=]|->|$))", re.MULTILINE),
    # only when the real name follows: `struct URL {`, `typedef struct _NODE {`, `class HTTP final {` are names
    re.compile(rb"\b(?:class|struct|union|namespace)\s+(" + _MACRO + rb")\s+(?!final\b)(?=[A-Za-z_]\w*(?:\s+final)?\s*[:{;])"),
)


def _macros_blanked(data: bytes) -> bytes:
    if not re.search(rb"[A-Z_][A-Z0-9_]{2,}", data):
        return data
    out = bytearray(data)
    for pattern in _MACROS:
        for match in pattern.finditer(data):
            start, end = match.span(1)
            out[start:end] = b" " * (end - start)
    return bytes(out)


# Lines that start a top-level definition, per language: where a parse broken by a syntax error
# can be cut into pieces that parse on their own. C and C++ are left out: with macros at
# column 0 everywhere, a cut there does more harm than the error does.
_TOP_LEVEL = {
    "python": re.compile(rb"^(?:async[ \t]+def|def|class|@)\b", re.MULTILINE),
    "javascript": re.compile(rb"^(?:export[ \t]+)?(?:default[ \t]+)?(?:async[ \t]+)?(?:function|class|const|let|var)\b", re.MULTILINE),
    "java": re.compile(rb"^(?:public|private|protected|abstract|final|sealed|class|interface|enum|record|@)\b", re.MULTILINE),
    "go": re.compile(rb"^(?:func|type|const|var)\b", re.MULTILINE),
    "rust": re.compile(rb"^(?:pub(?:\([^)]*\))?[ \t]+)?(?:fn|struct|enum|trait|impl|mod|const|static|type|unsafe|async|#\[)", re.MULTILINE),
    "bash": re.compile(rb"^(?:function[ \t]+)?[A-Za-z_][\w-]*[ \t]*\(\)", re.MULTILINE),
}
_TOP_LEVEL["typescript"] = _TOP_LEVEL["tsx"] = re.compile(
    rb"^(?:export[ \t]+)?(?:default[ \t]+|declare[ \t]+)?(?:async[ \t]+|abstract[ \t]+)?"
    rb"(?:function|class|const|let|var|interface|type|enum|namespace)\b", re.MULTILINE)


def _matches(language_id: str, query, root):
    """All query matches: over the whole tree, or, for a language that declares the node types
    that can hold definitions, only on the candidate nodes a pruned walk finds."""
    import tree_sitter

    scopes = BY_ID[language_id].scopes
    if scopes is None:
        return tree_sitter.QueryCursor(query).matches(root)
    roots = definition_roots(language_id)
    out = []
    cursor = root.walk()
    while True:
        node_type = cursor.node.type
        if node_type in roots:
            one = tree_sitter.QueryCursor(query)
            one.set_max_start_depth(0)  # patterns that start at this node only
            out.extend(one.matches(cursor.node))
        if node_type in scopes and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return out


def _recovered(language_id: str, data: bytes) -> list[_Def] | None:
    """Definitions from a file whose parse went wrong, parsed again piece by piece.

    tree-sitter's error recovery can swallow everything after a syntax error (an unclosed
    brace makes the next class a child of the broken one). Parsing each top-level piece on its
    own (`included_ranges`) keeps the damage inside the piece that holds the error. For Python,
    when Python's own parser accepts the file (tree-sitter-python misparses some valid code,
    such as a dedent inside brackets), the pieces are its exact top-level statements.
    """
    import tree_sitter

    starts = _python_statement_starts(data) if language_id == "python" else None
    if starts is None:
        pattern = _TOP_LEVEL.get(language_id)
        if pattern is None:
            return None
        starts = sorted({0, *(m.start() for m in pattern.finditer(data))})
    if len(starts) < 2:
        return None
    parser = tree_sitter.Parser(ts_parser(language_id).language)
    defs: list[_Def] = []
    ends = starts[1:] + [len(data)]
    row = data.count(b"\n", 0, starts[0])
    for start, end in zip(starts, ends):
        rows = data.count(b"\n", start, end)
        parser.included_ranges = [tree_sitter.Range((row, 0), (row + rows + 1, 0), start, end)]
        tree = parser.parse(deadline.reader(data))
        deadline.check()
        defs.extend(_definitions(language_id, tree.root_node, data))
        row += rows
    defs.sort(key=lambda d: (d.start, -d.end))
    return defs


#: Data files whose keys a syntax error loses. Not code (half typed in an editor), not HTML
#: (unclosed tags are legal) or CSS (newer syntax than the grammar's is common).
_NOTED = frozenset({"json", "yaml", "xml"})


def _first_error_line(root) -> int | None:
    """The line of the first syntax error, None when there is none but a trailing comma
    (JSON with comments allows one: tsconfig.json, .vscode/settings.json)."""
    cursor = root.walk()
    while True:
        node = cursor.node
        if (node.is_error or node.is_missing) and (node.text or b"").strip() != b",":
            return node.start_point[0] + 1
        if node.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return None


def _python_statement_starts(data: bytes) -> list[int] | None:
    import ast

    try:
        module = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    offsets = [0]
    for line in data.split(b"\n"):
        offsets.append(offsets[-1] + len(line) + 1)
    lines = sorted({min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", [])]) for s in module.body})
    return sorted({0, *(offsets[line - 1] for line in lines)})


def _outer(node, always, if_single, leading):
    """The node whose range the definition covers: decorators and wrappers included."""
    if not (always or if_single or leading):
        return node
    outer = node
    parent = node.parent
    while parent is not None and (
        parent.type in always or (parent.type in if_single and parent.named_child_count == 1)
    ):
        outer, parent = parent, parent.parent
    if leading:
        first = outer
        prev = outer.prev_named_sibling
        while prev is not None and prev.type in leading:
            first, prev = prev, prev.prev_named_sibling
        if first is not outer:
            return _Span(first, outer)
    return outer


class _Span:
    """A range that starts at one node and ends at another (attributes + item)."""

    __slots__ = ("first", "start_byte", "start_point", "end_byte", "end_point")

    def __init__(self, first, last) -> None:
        self.first = first
        self.start_byte, self.start_point = first.start_byte, first.start_point
        self.end_byte, self.end_point = last.end_byte, last.end_point


def _name(language_id: str, node, data: bytes, declarators: bool) -> tuple[str, str | None]:
    if declarators:  # C/C++: the name sits at the bottom of a declarator chain (pointer, function)
        while True:
            inner = node.child_by_field_name("declarator")
            # `(f)` and C++'s `double& at(int r)` hold theirs as an unnamed child
            if inner is None and node.type in ("parenthesized_declarator", "reference_declarator") \
                    and node.named_child_count:
                inner = node.named_child(0)
            if inner is None:
                break
            node = inner
    text = data[node.start_byte : node.end_byte].decode("utf-8", "replace").strip()
    if language_id in ("xml", "html"):
        text = text.strip("\"'")
    elif language_id in ("json", "yaml") or (node.type == "string" and language_id in ("javascript", "typescript", "tsx")):
        text = text.strip("\"'`")  # `'delete-all': () => ...` is named delete-all
    elif language_id in ("css", "scss"):
        text = _WS.sub(" ", text)
    scope = None
    if "::" in text and language_id in ("cpp", "c"):
        scope, _, text = text.rpartition("::")  # GNU style breaks lines after `Box<T>::`
        scope = _WS.sub("", re.sub(r"<[^<>]*>", "", scope)).replace("::", ".") or None
        text = text.strip()
    if language_id == "rust" and node.parent is not None and node.parent.type == "impl_item":
        text = _bare_type(text)
    return text, scope


#: Rust types with no name of their own, named as the standard library's docs name them.
_RUST_PRIMITIVE = ((re.compile(r"^\[[^\]]*;"), "array"), (re.compile(r"^\["), "slice"),
                   (re.compile(r"^\*\s*(?:const|mut)\b"), "pointer"), (re.compile(r"^\(\s*\)"), "unit"),
                   (re.compile(r"^\("), "tuple"), (re.compile(r"^(?:unsafe\s+)?(?:extern\s+\S+\s+)?fn\b"), "fn"))


def _bare_type(text: str) -> str:
    """`*Stack[T]` -> `Stack`, `Foo<T>` -> `Foo`, `&'a mut Bar` -> `Bar`, `dyn Any + Send` -> `Any`;
    Rust's `[T]` -> `slice`, `*const T` -> `pointer`, `(A, B)` -> `tuple`."""
    text = re.sub(r"^&\s*(?:'\w+\s+)?(?:mut\s+)?", "", text.strip())  # `&'a [T]`, `&mut [u8]`
    for pattern, name in _RUST_PRIMITIVE:
        if pattern.match(text):
            return name
    text = text.lstrip("*&").replace("mut ", "").strip()
    text = re.sub(r"^'\w+\s+", "", text)
    text = re.sub(r"^(?:dyn|impl)\s+", "", text)
    return re.split(r"[\[<\s+]", text, maxsplit=1)[0].split("::")[-1]


def _nest(defs: list[_Def], nested_names: bool) -> None:
    stack: list[_Def] = []
    for d in defs:
        while stack and not (d.start >= stack[-1].start and d.end <= stack[-1].end):
            stack.pop()
        parent = stack[-1] if stack else None
        d.parent = parent
        if d.kind == "function" and (d.scope is not None or (parent is not None and parent.kind in _CLASSLIKE)):
            d.kind = "method"
        if nested_names:
            scope = parent
            while scope is not None and scope.kind not in _SCOPES:  # `typedef struct X {..} X;`
                scope = scope.parent
            prefix = d.scope if d.scope is not None else (scope.qualname if scope is not None else None)
            if d.scope is not None and parent is not None and parent.kind == "module":
                prefix = f"{parent.qualname}.{d.scope}"
            d.qualname = f"{prefix}.{d.name}" if prefix else d.name
        stack.append(d)


def _python_stub(d: _Def) -> bool:
    outer = d.outer
    return outer.type == "decorated_definition" and any(
        child.type == "decorator" and child.text.rstrip().endswith(b"overload") for child in outer.children)


#: Overload signatures that are not the function: `function f(x: string): number;` (TypeScript),
#: `@overload def f(x: int) -> int: ...` (Python).
_OVERLOAD_STUB = {"typescript": lambda d: d.node.type in ("function_signature", "method_signature"),
                  "python": _python_stub}
_OVERLOAD_STUB["tsx"] = _OVERLOAD_STUB["typescript"]


def _fold_overloads(defs: list[_Def], is_stub) -> list[_Def]:
    """Overload signatures folded into the implementation that follows them: one symbol from the
    first signature (its doc comment is above it) to the end of the body, not one per signature,
    each a teacher call on a line of types, the first of them what `explain f` finds. Signatures
    with no implementation after them (a `declare`, an interface) stay as they are."""
    out: list[_Def] = []
    stubs: list[_Def] = []
    for d in defs:
        if stubs and d.qualname != stubs[0].qualname:
            out.extend(stubs)
            stubs = []
        if is_stub(d):
            stubs.append(d)
            continue
        if stubs:
            first = stubs[0].outer
            d.outer = _Span(first.first if isinstance(first, _Span) else first, d.outer)
            d.start = d.outer.start_byte
            stubs = []
        out.append(d)
    return out + stubs


def _parent_name(d: _Def) -> str | None:
    """The enclosing scope: for `A::f` defined at namespace level, `ns.A`, not `ns`."""
    prefix, dot, _ = d.qualname.rpartition(".")
    if dot and d.qualname != d.name:
        return prefix
    return d.parent.qualname if d.parent is not None else None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _utf16_col(data: bytes, byte: int, byte_col: int) -> int:
    prefix = data[byte - byte_col : byte]
    if prefix.isascii():
        return byte_col
    return len(prefix.decode("utf-8", "replace").encode("utf-16-le")) // 2


def _sharing_a_line(defs: list[_Def]) -> set[int]:
    """The definitions that share a line with one neither around nor inside them (the keys of a
    one-line JSON object, the functions of a minified file): their text is their own bytes, not
    the whole line, else they would share one hash and so one teacher answer, and hashing the
    line once per definition is quadratic. All others keep their whole lines, so their hashes,
    the keys of the teacher answers already stored, do not change."""
    on_line: dict[int, list[int]] = {}
    for i, d in enumerate(defs):
        first, last = d.outer.start_point[0], _last_row(d.outer)
        on_line.setdefault(first, []).append(i)
        if last != first:
            on_line.setdefault(last, []).append(i)
    shared: set[int] = set()
    for members in on_line.values():
        if len(members) < 2:
            continue
        order = sorted(set(members), key=lambda i: (defs[i].outer.start_byte, -defs[i].outer.end_byte))
        related = dict.fromkeys(order, 0)  # how many of the line's others are around or inside it
        chain: list[int] = []  # the definitions open at this point, outermost first
        for i in order:
            while chain and defs[chain[-1]].outer.end_byte <= defs[i].outer.start_byte:
                chain.pop()
            for around in chain:
                related[around] += 1
            related[i] += len(chain)
            chain.append(i)
        shared.update(i for i in order if related[i] < len(order) - 1)
    return shared


def _last_row(outer) -> int:
    end_row, end_col = outer.end_point
    return end_row - 1 if end_col == 0 and end_row > outer.start_point[0] else end_row


def _item(language_id: str, d: _Def, data: bytes, max_doc: int, ascii: bool, own_bytes: bool = False) -> Item:
    outer = d.outer
    start_row, start_col = outer.start_point
    end_row, end_col = outer.end_point
    end_byte = outer.end_byte
    if end_col == 0 and end_row > start_row:  # ends at the start of the next line
        end_row -= 1
        end_byte -= 1
        end_col = end_byte - (data.rfind(b"\n", 0, end_byte) + 1)
    if own_bytes:  # it shares a line with another (`_sharing_a_line`)
        line_start, line_end = outer.start_byte, end_byte
    else:
        line_start = outer.start_byte - start_col
        line_end = data.find(b"\n", end_byte)
        if line_end < 0:
            line_end = len(data)
    raw = data[line_start:line_end]
    if ascii:  # the common case: columns in bytes are columns in UTF-16 units
        lsp_range = (start_row, start_col, end_row, end_col)
    else:
        lsp_range = (start_row, _utf16_col(data, outer.start_byte, start_col), end_row, _utf16_col(data, end_byte, end_col))
    node = d.node
    body = node.child_by_field_name("body")
    return Item(
        d.kind, d.name, d.qualname, _parent_name(d), start_row + 1, end_row + 1, line_start, line_end,
        lsp_range, _signature(node, body, data), _doc(language_id, d, body, data)[:max_doc],
        hashlib.sha256(raw).hexdigest(),
    )


def _signature(node, body, data: bytes) -> str:
    if body is not None and body.start_byte > node.start_byte:
        head = data[node.start_byte : body.start_byte]
        # Comments between the name and the body (`def f(a,  # first`, `def g(): # note`) are
        # not the signature: their spans are cut out, last first so the offsets hold.
        # Walking the head's nodes is ~5% of a cold index; a head with no comment mark has none.
        comments = sorted(_comments_before(node, body.start_byte), reverse=True) if _COMMENT_MARK.search(head) else []
        for start, end in comments:
            head = head[: start - node.start_byte] + head[end - node.start_byte :]
        if comments:  # `(a: u8 /* c */)` leaves `(a: u8 )`
            head = re.sub(rb"\s+(?=[,)\]>])", b"", head)
    else:
        end = data.find(b"\n", node.start_byte, node.end_byte)
        head = data[node.start_byte : end if end >= 0 else node.end_byte]
    text = " ".join(head.decode("utf-8", "replace").split()).rstrip("{:").rstrip()
    return text[:_MAX_SIGNATURE]


#: What every comment the grammars know begins with: `#`, `//`, `/*`, `<!--`.
_COMMENT_MARK = re.compile(rb"[#/]|<!--")


def _comments_before(node, limit: int) -> list[tuple[int, int]]:
    """Byte spans of the comment nodes inside `node` that start before `limit`."""
    spans, stack = [], [node]
    while stack:
        current = stack.pop()
        if current.start_byte >= limit:
            continue
        if "comment" in current.type and current is not node:
            spans.append((current.start_byte, min(current.end_byte, limit)))
            continue
        stack.extend(current.children)
    return spans


def _doc(language_id: str, d: _Def, body, data: bytes) -> str:
    if language_id == "python" and body is not None and body.named_child_count:
        first = body.named_child(0)
        if first.type == "expression_statement" and first.named_child_count:
            string = first.named_child(0)
            if string.type in ("string", "concatenated_string"):
                return _clean_docstring(data[string.start_byte : string.end_byte].decode("utf-8", "replace"))
    return _leading_comment(d.outer, data)


def _clean_docstring(text: str) -> str:
    text = re.sub(r'^[rRbBuUfF]*("""|\'\'\'|"|\')', "", text)
    text = re.sub(r'("""|\'\'\'|"|\')$', "", text)
    lines = text.strip().splitlines()
    return "\n".join(line.strip() for line in lines)


def _leading_comment(outer, data: bytes) -> str:
    """Comments directly above the definition (no blank line between), oldest first."""
    node = outer.first if isinstance(outer, _Span) else outer
    parts = []
    expect_row = node.start_point[0]
    prev = node.prev_sibling
    while prev is not None and "comment" in prev.type.lower() and prev.end_point[0] >= expect_row - 1:
        if prev.start_byte == 0 and data.startswith(b"#!"):
            break  # the script's interpreter line, not the first line of a doc
        parts.append(data[prev.start_byte : prev.end_byte].decode("utf-8", "replace"))
        expect_row = prev.start_point[0]
        prev = prev.prev_sibling
    if not parts:
        return ""
    text = "\n".join(reversed(parts))
    lines = [_COMMENT_MARKS.sub("", line).strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()
