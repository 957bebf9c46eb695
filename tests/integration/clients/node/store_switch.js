// Switches stores per transaction with node-postgres named queries (prepared once per
// connection, then only bound). Each argument after the rounds is "<store>=<database>": the
// client sets the store, then checks that a transaction and a single statement both run in
// that database and that SHOW storegate.store names a store.
// Usage: node store_switch.js <host> <port> <user> <password> <first-store> <rounds> <store>=<db>...
// Prints one JSON line; exits non-zero on the first wrong answer or error.
"use strict";

const { Client } = require("pg");

const [host, port, user, password, first, rounds, ...pairs] = process.argv.slice(2);

const where = { name: "sw_where", text: "SELECT current_database() AS db, $1::int AS n" };
const show = { name: "sw_show", text: "SHOW storegate.store" };

async function main() {
  const client = new Client({
    host, port: Number(port), user, password, database: user,
    options: `-c storegate.store=${first}`,
  });
  await client.connect();
  let switches = 0;
  for (let round = 0; round < Number(rounds); round++) {
    for (const pair of pairs) {
      const [store, database] = pair.split("=");
      const set = await client.query({
        name: `sw_set_${store.replace(/[^a-z0-9]/gi, "_")}`,
        text: `SET storegate.store = '${store}'`,
      });
      if (set.command !== "SET") {
        throw new Error(`SET answered ${set.command}`);
      }
      await client.query("BEGIN");
      const inside = await client.query({ ...where, values: [round] });
      await client.query("COMMIT");
      const outside = await client.query({ ...where, values: [round] });
      for (const answer of [inside, outside]) {
        if (answer.rows[0].db !== database || answer.rows[0].n !== round) {
          throw new Error(`after switching to ${store}: ${JSON.stringify(answer.rows[0])}`);
        }
      }
      const current = await client.query(show);
      if (!current.rows[0]["storegate.store"]) {
        throw new Error("SHOW storegate.store is empty");
      }
      switches++;
    }
  }
  await client.end();
  console.log(JSON.stringify({ switches }));
}

main().catch((err) => {
  console.error(`FAILED: ${err.code || ""} ${err.message}`);
  process.exit(1);
});
