import assert from 'node:assert';
import fs from 'node:fs';
import { freeTcpPort } from 'egg-im-testkit';
import { startNode } from './support/cluster';

describe('the test kit starts nodes and picks ports', function() {
  this.timeout(60000);

  it('startNode fails at once when the node exits while starting, with the node\'s own error', async () => {
    const began = Date.now();
    // a delivery setting the router refuses: the worker stops at its config check
    await assert.rejects(startNode({ TEST_ACK_TIMEOUT_MS: '-1' }), (err: Error) => {
      assert.match(err.message, /exited while starting/);
      assert.match(err.message, /\[egg-im-router\][^\n]*ackTimeoutMs/);
      return true;
    });
    // was: the wait polled /readyz for its whole 120 s and the hook's timeout hid the node's error
    assert.ok(Date.now() - began < 30000, `it took ${Date.now() - began} ms`);
  });

  it('hands out ports below the range the OS gives outgoing connections', async () => {
    const ephemeralStart = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (let i = 0; i < 20; i++) {
      const port = await freeTcpPort();
      assert.ok(port < ephemeralStart, `port ${port} is in the ephemeral range (from ${ephemeralStart})`);
    }
  });
});
