package org.stormrs.bridge;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;

/**
 * Sends the topology's log4j/slf4j logging into the storm-rs worker log, where each line carries
 * the topology, component and task of the executor thread that logged it. Level: INFO, as Storm's
 * worker.xml; {@code topology.debug} does not change it.
 */
final class LogBridge extends AbstractAppender {
    private LogBridge() {
        super("storm-rs", null, null, true, Property.EMPTY_ARRAY);
    }

    @Override
    public void append(LogEvent event) {
        String message = event.getMessage() == null ? "" : event.getMessage().getFormattedMessage();
        if (event.getThrown() != null) {
            message = message + "\n" + Bridge.describe(event.getThrown());
        }
        Native.log(event.getLevel().intLevel(), event.getLoggerName(), event.getThreadName(), message);
    }

    /** Each changed logger's level before its first change (null: it had no level of its own). */
    private static final Map<String, Level> ORIGINAL = new HashMap<>();

    /**
     * Storm's LogConfigManager: sets {@code logger} ("ROOT" for the root logger) to {@code level},
     * remembering the level it had; a null level restores that.
     */
    static synchronized void setLevel(String logger, String level) {
        String name = "ROOT".equalsIgnoreCase(logger) ? LogManager.ROOT_LOGGER_NAME : logger;
        Object context = LogManager.getContext(false);
        if (!(context instanceof LoggerContext)) {
            return;
        }
        Configuration config = ((LoggerContext) context).getConfiguration();
        if (level == null) {
            if (ORIGINAL.containsKey(name)) {
                Configurator.setLevel(name, ORIGINAL.remove(name));
            }
            return;
        }
        if (!ORIGINAL.containsKey(name)) {
            LoggerConfig own = config.getLoggerConfig(name);
            ORIGINAL.put(name, own.getName().equals(name) ? own.getLevel() : null);
        }
        Configurator.setLevel(name, Level.toLevel(level, Level.INFO));
    }

    static void install(Map<String, Object> conf) {
        Object context = LogManager.getContext(false);
        if (!(context instanceof LoggerContext)) {
            return; // the topology brought another log4j implementation; leave it alone
        }
        LoggerContext ctx = (LoggerContext) context;
        Configuration config = ctx.getConfiguration();
        LogBridge appender = new LogBridge();
        appender.start();
        config.addAppender(appender);
        LoggerConfig root = config.getRootLogger();
        for (String name : new ArrayList<>(root.getAppenders().keySet())) {
            root.removeAppender(name);
        }
        root.addAppender(appender, null, null);
        root.setLevel(Level.INFO);
        ctx.updateLoggers();
    }
}
