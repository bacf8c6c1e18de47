"""Issue 12 item 2: registry credentials go to the registry host they were given for, nowhere else.

The merge request names registries (`baseline`, `base` in its own pyproject.toml); a hostile one
asks for credentials, points its token realm or an upload at another host. 127.0.0.1 plays the
host the credentials are for, 127.0.0.2 the other host.
"""

from __future__ import annotations

import base64
import hashlib

from support.cli import run_boxwise

from .hostserver import Answer, Seen, serving

USER, PASSWORD = "ci-bot", "Runner-Pa55word-0123456789"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def _env(tmp_path, registry_host: str) -> dict[str, str]:
    (tmp_path / "docker").mkdir(exist_ok=True)
    return {
        "BOXWISE_REGISTRY": registry_host,
        "BOXWISE_REGISTRY_USER": USER,
        "BOXWISE_REGISTRY_PASSWORD": PASSWORD,
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "CI_REGISTRY": "",
    }


def _basic_wall(seen: Seen) -> Answer:
    return Answer(401, {"WWW-Authenticate": 'Basic realm="give me your password"'})


def test_credentials_for_one_registry_are_not_sent_to_another(tmp_path) -> None:
    with serving("127.0.0.2", _basic_wall) as evil:
        result = run_boxwise("inspect", f"registry://{evil.host}/app:1", env=_env(tmp_path, "127.0.0.1:5000"))
    assert evil.seen, "boxwise never asked the registry"
    assert evil.authorizations() == []
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr


def test_a_token_realm_on_another_host_gets_no_credentials(tmp_path) -> None:
    with serving("127.0.0.2", lambda seen: Answer(200, body=b'{"token": "anonymous"}')) as realm:

        def registry_script(seen: Seen) -> Answer:
            challenge = f'Bearer realm="{realm.url}/token",service="evil",scope="repository:app:pull"'
            return Answer(401, {"WWW-Authenticate": challenge})

        with serving("127.0.0.1", registry_script) as registry:
            result = run_boxwise(
                "inspect", f"registry://{registry.host}/app:1", env=_env(tmp_path, registry.host)
            )
    assert realm.authorizations() == [], "the realm on another host was sent the credentials"
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr


def test_an_upload_location_on_another_host_gets_no_authorization(tmp_path, monkeypatch) -> None:
    from boxwise.image.registry_client import Registry, parse_ref

    blob = b"layer bytes"
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    with serving("127.0.0.2", lambda seen: Answer(201)) as elsewhere:

        def registry_script(seen: Seen) -> Answer:
            if seen.headers.get("authorization") != BASIC:
                return _basic_wall(seen)
            return Answer(202, {"Location": f"{elsewhere.url}/upload/1?state=x"})

        with serving("127.0.0.1", registry_script) as registry:
            for key, value in _env(tmp_path, registry.host).items():
                monkeypatch.setenv(key, value)
            client = Registry(parse_ref(f"{registry.host}/app:1"), "registry://test", push=True)
            client.upload(digest, len(blob), blob)
    assert registry.authorizations(), "the registry itself got the credentials it asked for"
    assert [s.method for s in elsewhere.seen] == ["PUT"]
    assert elsewhere.authorizations() == []


def test_credentials_go_over_https_or_to_loopback_only() -> None:
    from boxwise.image.registry_scope import may_send_credentials

    assert may_send_credentials("https://auth.docker.io/token", "registry-1.docker.io")
    assert may_send_credentials("https://gitlab.example.com/jwt/auth", "registry.example.com")
    assert may_send_credentials("http://127.0.0.1:5001/token", "127.0.0.1:5000")
    assert not may_send_credentials("http://registry.example.com/token", "registry.example.com")
    assert not may_send_credentials("https://evil.example.net/token", "registry.example.com")
    assert not may_send_credentials("https://example.com.evil.net/token", "example.com")
    assert not may_send_credentials("http://127.0.0.2:5001/token", "127.0.0.1:5000")
