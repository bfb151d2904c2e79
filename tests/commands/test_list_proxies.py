import json

from tests.factories import ProxyFactory


def test_lists_each_proxy_with_its_provider(manage):
    proxy = ProxyFactory(name="Chat API")
    out, _ = manage("list_proxies")
    assert out.splitlines()[1].split()[:4] == ["chat-api", "Chat", "API", proxy.provider.slug]


def test_json_describes_each_proxy(manage):
    proxy = ProxyFactory(context="/chat")
    out, _ = manage("list_proxies", "--json")
    (row,) = json.loads(out)
    assert (row["id"], row["version"], row["context"]) == (proxy.slug, "v1.0", "/chat")
