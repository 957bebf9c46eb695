// Switches stores per transaction through pgjdbc, which sends every statement through the
// extended protocol and, with prepareThreshold=1, as a named server-side statement from its
// first use. Each argument after the password is "<store>=<database>": the client sets the
// store, then checks that a transaction and a single statement both run in that database.
// Usage: java StoreSwitch <jdbc-url> <user> <password> <rounds> <store>=<database>...
// Prints "ok switches=N"; exits non-zero on the first wrong answer or error.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Properties;

public final class StoreSwitch {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        props.setProperty("prepareThreshold", "1");
        int rounds = Integer.parseInt(args[3]);
        int switches = 0;
        try (Connection conn = DriverManager.getConnection(args[0], props);
             PreparedStatement show = conn.prepareStatement("SHOW storegate.store");
             PreparedStatement where = conn.prepareStatement("SELECT current_database()")) {
            for (int round = 0; round < rounds; round++) {
                for (int i = 4; i < args.length; i++) {
                    String[] pair = args[i].split("=", 2);
                    try (PreparedStatement set = conn.prepareStatement(
                             "SET storegate.store = '" + pair[0] + "'")) {
                        set.execute();
                    }
                    conn.setAutoCommit(false);
                    expect(where, pair[1], "transaction after switching to " + pair[0]);
                    conn.commit();
                    conn.setAutoCommit(true);
                    expect(where, pair[1], "statement after switching to " + pair[0]);
                    try (ResultSet rs = show.executeQuery()) {
                        rs.next();
                        if (rs.getString(1).isEmpty()) {
                            throw new IllegalStateException("SHOW storegate.store is empty");
                        }
                    }
                    switches++;
                }
            }
        } catch (SQLException | RuntimeException e) {
            System.err.println("FAILED: " + e);
            System.exit(1);
        }
        System.out.println("ok switches=" + switches);
    }

    private static void expect(PreparedStatement where, String database, String what)
        throws SQLException {
        try (ResultSet rs = where.executeQuery()) {
            rs.next();
            if (!rs.getString(1).equals(database)) {
                throw new IllegalStateException(what + ": ran in " + rs.getString(1));
            }
        }
    }
}
