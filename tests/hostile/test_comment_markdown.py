"""Issue 12 item 8: text from the merge request stays text in the comment.

An app folder named with a backtick, `@all` and `<img>`, and requirements lines holding
`</details>` and `#1`, reach the comment through the headline, the findings table and the
footer. The comment is rendered as the platforms do (CommonMark + tables, raw HTML allowed:
markdown-it-py, which rich already brings) and the HTML is read back: no element the merge
request wrote, the folds intact, no mention or reference outside code.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from support.cli import run_boxwise

APP = "apps/x` @all <img src=x onerror=alert(1)> `y"
HOSTILE_LINES = (
    "flask</details><img src=y>\n@all please see #1 and !2 ~bug\n<!-- boxwise:report app=apps/api -->\n"
)


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text_outside_code: list[str] = []
        self._code = 0

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self._code += tag == "code"

    def handle_endtag(self, tag) -> None:
        self.tags.append("/" + tag)
        self._code -= tag == "code"

    def handle_data(self, data) -> None:
        if not self._code:
            self.text_outside_code.append(data)

    def handle_comment(self, data) -> None:
        self.tags.append("!--" + data)


def _render(markdown: str) -> _Html:
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    parsed = _Html()
    parsed.feed(html)
    return parsed


def test_hostile_names_and_lint_text_stay_text(make_git_repo, analyses) -> None:
    repo = make_git_repo({f"{APP}/requirements.txt": HOSTILE_LINES, f"{APP}/Procfile": "web: python -m x\n"})
    result = run_boxwise("report", str(analyses["new"]), "--app", APP, "--format", "markdown", cwd=repo)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    body = result.stdout
    assert "Lint findings" in body and "requirements-syntax" in body

    html = _render(body)
    assert "img" not in html.tags and "/img" not in html.tags
    assert html.tags.count("details") == html.tags.count("/details")
    comments = [t for t in html.tags if t.startswith("!--")]
    assert len(comments) == 1 and body.rstrip().endswith(comments[0].replace("!--", "<!--", 1) + "-->")
    prose = "".join(html.text_outside_code)
    assert not re.search(r"[@#!~]\w", prose), re.findall(r".{20}[@#!~]\w.{10}", prose)
