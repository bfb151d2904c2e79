"""``Mistral.embeddings.create`` against ``server_url``; prints the vectors and usage as JSON.

python mistral_embeddings.py '{"server_url": URL, "api_key": KEY, "model": M, "inputs": [TEXT]}'
"""

import json
import sys

from mistralai.client import Mistral

args = json.loads(sys.argv[1])
client = Mistral(api_key=args["api_key"], server_url=args["server_url"], timeout_ms=30_000)
response = client.embeddings.create(model=args["model"], inputs=args["inputs"])
print(
    json.dumps(
        {
            "embeddings": [item.embedding for item in response.data],
            "usage": {
                "prompt_tokens": response.usage.prompt_tokens,
                "total_tokens": response.usage.total_tokens,
            },
        }
    )
)
