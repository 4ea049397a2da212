"""The deployed API answers as src/app.py says."""

import json
import unittest
import urllib.request

from tests.stack import output


class HelloApiTest(unittest.TestCase):
    def test_greets_by_name(self):
        with urllib.request.urlopen(output("ApiUrl") + "/hello/ada", timeout=30) as response:
            self.assertEqual(response.status, 200)
            self.assertEqual(json.loads(response.read()), {"message": "hello, ada"})
