// Runs many short transactions with node-postgres named queries (which pg prepares once per
// connection and then only binds) over several connections at once, and checks every answer.
// Usage: node named_queries.js <host> <port> <user> <password> <store> <table> <clients> <rounds>
// Prints one JSON line with what it did; exits non-zero on the first wrong answer or error.
"use strict";

const { Client } = require("pg");

const [host, port, user, password, store, table, clients, rounds] = process.argv.slice(2);

const insert = {
  name: "txn_insert",
  text: `INSERT INTO ${table} (client, seq, val) VALUES ($1, $2, $3)`,
};
const count = {
  name: "txn_count",
  text: `SELECT count(*)::int AS n, coalesce(sum(val), 0)::bigint AS total FROM ${table}
         WHERE client = $1`,
};
const echo = { name: "txn_echo", text: "SELECT $1::int + 1 AS next, pg_backend_pid() AS pid" };

async function runClient(index) {
  const client = new Client({
    host, port: Number(port), user, password, database: user,
    options: `-c storegate.store=${store}`,
  });
  await client.connect();
  const pids = new Set();
  let expectedTotal = 0;
  for (let seq = 0; seq < Number(rounds); seq++) {
    await client.query("BEGIN");
    await client.query({ ...insert, values: [index, seq, seq * 3] });
    expectedTotal += seq * 3;
    const inside = await client.query({ ...count, values: [index] });
    await client.query("COMMIT");
    if (inside.rows[0].n !== seq + 1 || Number(inside.rows[0].total) !== expectedTotal) {
      throw new Error(`client ${index} round ${seq}: got ${JSON.stringify(inside.rows[0])}`);
    }
    // Outside a transaction: each statement is a transaction of its own.
    const out = await client.query({ ...echo, values: [seq] });
    if (out.rows[0].next !== seq + 1) {
      throw new Error(`client ${index} round ${seq}: echo ${JSON.stringify(out.rows[0])}`);
    }
    pids.add(out.rows[0].pid);
  }
  await client.end();
  return pids.size;
}

async function main() {
  const jobs = [];
  for (let i = 0; i < Number(clients); i++) {
    jobs.push(runClient(i));
  }
  const pidCounts = await Promise.all(jobs);
  console.log(JSON.stringify({ clients: jobs.length, rounds: Number(rounds), pidCounts }));
}

main().catch((err) => {
  console.error(`FAILED: ${err.code || ""} ${err.message}`);
  process.exit(1);
});
