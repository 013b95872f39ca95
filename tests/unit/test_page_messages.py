"""Messages taken from the API's answers as the pages show them."""

from __future__ import annotations

from markupsafe import Markup

from web.rendering import message


def test_a_message_s_backtick_spans_are_shown_as_code() -> None:
    shown = message("give `at` or `version`, not both")

    assert shown == Markup("give <code>at</code> or <code>version</code>, not both")


def test_a_message_is_escaped_inside_and_outside_its_code_spans() -> None:
    shown = message('<b>x</b> `<script>alert("y")</script>` & `a<b`')

    assert shown == Markup(
        "&lt;b&gt;x&lt;/b&gt; <code>&lt;script&gt;alert(&#34;y&#34;)&lt;/script&gt;</code>"
        " &amp; <code>a&lt;b</code>"
    )


def test_a_lone_backtick_is_left_as_it_is() -> None:
    assert message("it's a ` alone") == Markup("it&#39;s a ` alone")
