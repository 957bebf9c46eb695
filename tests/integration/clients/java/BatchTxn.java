// Runs many short transactions through pgjdbc with server-side prepared statements from the
// first use (prepareThreshold=1) and batched inserts, over several connections at once, and
// checks every answer.
// Usage: java BatchTxn <jdbc-url> <user> <password> <table> <clients> <rounds>
// Prints one line "ok clients=N rounds=M distinct_pids=..."; exits non-zero on an error.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

public final class BatchTxn {
    private static final int BATCH = 5;

    public static void main(String[] args) throws Exception {
        String url = args[0];
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        props.setProperty("prepareThreshold", "1");
        String table = args[3];
        int clients = Integer.parseInt(args[4]);
        int rounds = Integer.parseInt(args[5]);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<Integer>> results = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            final int client = i;
            results.add(pool.submit(() -> runClient(url, props, table, client, rounds)));
        }
        StringBuilder pids = new StringBuilder();
        try {
            for (Future<Integer> result : results) {
                pids.append(result.get()).append(',');
            }
        } catch (Exception e) {
            System.err.println("FAILED: " + e.getCause());
            pool.shutdownNow();
            System.exit(1);
        }
        pool.shutdown();
        System.out.println("ok clients=" + clients + " rounds=" + rounds + " distinct_pids=" + pids);
    }

    private static int runClient(String url, Properties props, String table, int client,
                                 int rounds) throws SQLException {
        Set<Integer> pids = new HashSet<>();
        try (Connection conn = DriverManager.getConnection(url, props);
             PreparedStatement insert = conn.prepareStatement(
                 "INSERT INTO " + table + " (client, seq, val) VALUES (?, ?, ?)");
             PreparedStatement count = conn.prepareStatement(
                 "SELECT count(*), coalesce(sum(val), 0) FROM " + table + " WHERE client = ?");
             PreparedStatement pid = conn.prepareStatement(
                 "SELECT pg_backend_pid(), ?::int * 2, current_setting('application_name')");
             java.sql.Statement plain = conn.createStatement()) {
            // pgjdbc sends SET through the extended protocol: it must follow this client.
            String name = "jdbc" + client;
            plain.execute("SET application_name = '" + name + "'");
            long expected = 0;
            for (int round = 0; round < rounds; round++) {
                conn.setAutoCommit(false);
                for (int k = 0; k < BATCH; k++) {
                    int seq = round * BATCH + k;
                    insert.setInt(1, client);
                    insert.setInt(2, seq);
                    insert.setInt(3, seq);
                    insert.addBatch();
                    expected += seq;
                }
                int[] counts = insert.executeBatch();
                for (int c : counts) {
                    check(c == 1, "batch update count " + c);
                }
                count.setInt(1, client);
                try (ResultSet rs = count.executeQuery()) {
                    check(rs.next(), "no count row");
                    check(rs.getLong(1) == (long) (round + 1) * BATCH, "count " + rs.getLong(1));
                    check(rs.getLong(2) == expected, "sum " + rs.getLong(2));
                }
                conn.commit();
                conn.setAutoCommit(true);
                pid.setInt(1, round);
                try (ResultSet rs = pid.executeQuery()) {
                    check(rs.next(), "no pid row");
                    check(rs.getInt(2) == round * 2, "echo " + rs.getInt(2));
                    check(name.equals(rs.getString(3)), "application_name " + rs.getString(3));
                    pids.add(rs.getInt(1));
                }
            }
        }
        return pids.size();
    }

    private static void check(boolean ok, String what) throws SQLException {
        if (!ok) {
            throw new SQLException("wrong answer: " + what);
        }
    }
}
