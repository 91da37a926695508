"""`herald presence` against the built binary on a temporary data directory: rules set,
replaced, listed and removed in the real SQLite file, user and domain watchers normalised,
the exit codes and messages of bad input and of a refused removal, --config, --help, and the
command working beside a running server on the same directory."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import HERALD, Server


def herald_presence(data_dir, *args):
    return subprocess.run([HERALD, "presence", *args, "--data-dir", data_dir], capture_output=True,
                          text=True, timeout=30)


class PresenceCommandTest(unittest.TestCase):
    def setUp(self):
        self.data_dir = tempfile.mkdtemp(prefix="herald-presence-")
        self.addCleanup(shutil.rmtree, self.data_dir, True)

    def run_ok(self, *args):
        result = herald_presence(self.data_dir, *args)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        return result.stdout

    def listed(self, *presentity):
        return self.run_ok("list", *presentity).splitlines()

    def assert_refused(self, result, code, *phrases):
        self.assertEqual(result.returncode, code, result.stdout + result.stderr)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("herald: "), lines[0])
        for phrase in phrases:
            self.assertIn(phrase, lines[0])

    def test_set_list_and_remove_a_rule(self):
        self.assertEqual(self.listed(), [])
        out = self.run_ok("allow", "bob@example.com", "alice@example.com")
        self.assertIn("sip:bob@example.com sip:alice@example.com allow", out)
        self.assertEqual(self.listed(), ["sip:bob@example.com sip:alice@example.com allow"])
        self.run_ok("remove", "bob@example.com", "sip:alice@example.com")
        self.assertEqual(self.listed(), [])

    def test_each_action_is_set_and_a_rule_replaces_the_earlier_one(self):
        for action in ("confirm", "block", "polite-block", "allow"):
            self.run_ok(action, "sip:bob@example.com", "alice@example.com")
            self.assertEqual(self.listed(), [f"sip:bob@example.com sip:alice@example.com {action}"])

    def test_addresses_are_normalised_as_herald_user_does(self):
        self.run_ok("block", "sips:bob@Example.COM", "Mallory@EVIL.example")
        self.assertEqual(self.listed(), ["sip:bob@example.com sip:Mallory@evil.example block"])
        # The same pair written otherwise is the same rule.
        self.run_ok("allow", "bob@example.com", "sip:Mallory@evil.example")
        self.assertEqual(self.listed(), ["sip:bob@example.com sip:Mallory@evil.example allow"])

    def test_a_domain_watcher_is_kept_as_a_lower_case_domain(self):
        self.run_ok("confirm", "bob@example.com", "Partner.EXAMPLE")
        self.run_ok("allow", "bob@example.com", "carol@partner.example")
        self.assertEqual(self.listed(), ["sip:bob@example.com partner.example confirm",
                                         "sip:bob@example.com sip:carol@partner.example allow"])
        self.run_ok("remove", "bob@example.com", "partner.example")
        self.assertEqual(self.listed(), ["sip:bob@example.com sip:carol@partner.example allow"])

    def test_list_is_ordered_and_can_name_one_presentity(self):
        self.run_ok("block", "carol@example.com", "example.org")
        self.run_ok("allow", "bob@example.com", "zed@example.com")
        self.run_ok("polite-block", "bob@example.com", "alice@example.com")
        self.assertEqual(self.listed(), ["sip:bob@example.com sip:alice@example.com polite-block",
                                         "sip:bob@example.com sip:zed@example.com allow",
                                         "sip:carol@example.com example.org block"])
        self.assertEqual(self.listed("bob@example.com"),
                         ["sip:bob@example.com sip:alice@example.com polite-block",
                          "sip:bob@example.com sip:zed@example.com allow"])
        self.assertEqual(self.listed("sip:nobody@example.com"), [])

    def test_an_unknown_action_is_bad_input(self):
        result = herald_presence(self.data_dir, "deny", "bob@example.com", "alice@example.com")
        self.assert_refused(result, 2, "'deny'", "allow, block, polite-block, confirm")
        result = herald_presence(self.data_dir, "Allow", "bob@example.com", "alice@example.com")
        self.assert_refused(result, 2, "'Allow'")
        self.assertEqual(self.listed(), [])

    def test_a_bad_address_is_bad_input(self):
        result = herald_presence(self.data_dir, "allow", "example.com", "alice@example.com")
        self.assert_refused(result, 2, "'example.com'", "user address")
        result = herald_presence(self.data_dir, "allow", "bob@example.com:5060", "alice@example.com")
        self.assert_refused(result, 2, "'bob@example.com:5060'")
        for watcher in ("sip:example.com", "example.com:5060", "alice@example.com;transport=tcp", "not a domain"):
            result = herald_presence(self.data_dir, "block", "bob@example.com", watcher)
            self.assert_refused(result, 2, f"'{watcher}'", "domain")
        result = herald_presence(self.data_dir, "list", "example.com")
        self.assert_refused(result, 2, "'example.com'")
        self.assertEqual(self.listed(), [])

    def test_missing_or_extra_arguments_are_bad_input(self):
        self.assert_refused(herald_presence(self.data_dir), 2, "allow, block, polite-block, confirm")
        self.assert_refused(herald_presence(self.data_dir, "allow", "bob@example.com"), 2, "PRESENTITY and WATCHER")
        self.assert_refused(herald_presence(self.data_dir, "remove", "bob@example.com", "a@example.com", "x"), 2,
                            "PRESENTITY and WATCHER")
        self.assert_refused(herald_presence(self.data_dir, "list", "bob@example.com", "x"), 2, "list")

    def test_removing_a_missing_rule_is_refused_by_the_store(self):
        self.run_ok("allow", "bob@example.com", "alice@example.com")
        result = herald_presence(self.data_dir, "remove", "bob@example.com", "carol@example.com")
        self.assert_refused(result, 1, "no presence rule", "sip:bob@example.com", "sip:carol@example.com")
        result = herald_presence(self.data_dir, "remove", "alice@example.com", "bob@example.com")
        self.assert_refused(result, 1, "no presence rule")
        self.assertEqual(self.listed(), ["sip:bob@example.com sip:alice@example.com allow"])

    def test_the_data_directory_comes_from_the_config_file(self):
        config = os.path.join(self.data_dir, "herald.toml")
        rules_dir = os.path.join(self.data_dir, "from-config")
        with open(config, "w") as f:
            f.write(f'data_dir = "{rules_dir}"\n')
        result = subprocess.run([HERALD, "presence", "--config", config, "block", "bob@example.com", "example.org"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(os.path.isfile(os.path.join(rules_dir, "herald.db")))
        self.assertEqual(herald_presence(rules_dir, "list").stdout, "sip:bob@example.com example.org block\n")

    def test_help_explains_every_subcommand_and_action(self):
        for flag in ("--help", "-h"):
            result = subprocess.run([HERALD, "presence", flag], capture_output=True, text=True, timeout=30)
            self.assertEqual(result.returncode, 0, result.stderr)
            text = result.stdout
            for word in ("allow", "block", "polite-block", "confirm", "remove", "list", "PRESENTITY", "WATCHER",
                         "--data-dir", "--config"):
                self.assertIn(word, text)
            self.assertIn("reason=rejected", text)  # what block does
            self.assertIn("offline (closed)", text)  # what polite-block does
            self.assertIn("pending", text)  # what confirm does
            self.assertIn("within about a second", text)
        top = subprocess.run([HERALD, "--help"], capture_output=True, text=True, timeout=30)
        self.assertIn("presence", top.stdout)

    def test_rules_are_written_while_the_server_runs_on_the_same_directory(self):
        server = Server(data_dir=self.data_dir)
        try:
            self.run_ok("confirm", "bob@example.com", "alice@example.com")
            self.run_ok("allow", "bob@example.com", "alice@example.com")
            self.assertEqual(self.listed(), ["sip:bob@example.com sip:alice@example.com allow"])
            self.assertTrue(server.alive())
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
