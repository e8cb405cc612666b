package dev.promptgrad.train;

import dev.promptgrad.io.AtomicFile;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleUnaryOperator;

/**
 * Draws a run's training and held-out loss against the optimizer step, with labelled axes, tick values, a
 * grid and a legend, as a PNG (java.awt in memory, no display needed) and as an SVG written by hand. Both
 * come from one layout drawn on a small {@link Canvas}, so the two pictures agree. It reads a
 * {@link MetricsLog}; it does not compute anything else.
 */
public final class LossCurve {
    public static final String PNG_FILE = "loss_curve.png";
    public static final String SVG_FILE = "loss_curve.svg";

    static final int WIDTH = 800, HEIGHT = 480;
    private static final int LEFT = 78, RIGHT = 24, TOP = 48, BOTTOM = 62;
    private static final Color TRAIN = new Color(0x1f77b4), EVAL = new Color(0xd62728);
    private static final Color AXIS = new Color(0x333333), GRID = new Color(0xdddddd);

    private LossCurve() {
    }

    /** Where a label sits relative to its point. */
    enum Anchor { START, MIDDLE, END }

    /** The few drawing calls the plot needs, in pixels with y growing downwards. */
    interface Canvas {
        void line(double x1, double y1, double x2, double y2, Color color, double width);

        void polyline(List<double[]> points, Color color, double width);

        void dot(double x, double y, double radius, Color color);

        /** Text with its baseline at y; {@code rotated} turns it 90° anticlockwise about (x, y). */
        void text(double x, double y, String text, Anchor anchor, int size, boolean bold, boolean rotated, Color color);
    }

    /** Writes {@link #PNG_FILE} and {@link #SVG_FILE} into {@code folder}, each atomically. */
    public static void write(MetricsLog metrics, String title, Path folder) {
        try {
            AtomicFile.write(folder.resolve(PNG_FILE), png(metrics, title));
            AtomicFile.write(folder.resolve(SVG_FILE), svg(metrics, title).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the loss curve in " + folder + ": " + e.getMessage(), e);
        }
    }

    /** The PNG file's bytes. */
    public static byte[] png(MetricsLog metrics, String title) {
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            draw(metrics, title, new ImageCanvas(g));
        } finally {
            g.dispose();
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            ImageIO.write(image, "png", bytes);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode the loss curve as PNG: " + e.getMessage(), e);
        }
        return bytes.toByteArray();
    }

    /** The SVG file's text. */
    public static String svg(MetricsLog metrics, String title) {
        SvgCanvas canvas = new SvgCanvas();
        draw(metrics, title, canvas);
        return canvas.document();
    }

    /** The whole plot: frame, grid, ticks, axis titles, both curves and the legend. */
    static void draw(MetricsLog metrics, String title, Canvas canvas) {
        List<double[]> train = new ArrayList<>(), eval = new ArrayList<>();
        for (MetricsLog.Entry e : metrics.entries()) {
            if (e.loss() != null) train.add(new double[] {e.step(), e.loss()});
            if (e.evalLoss() != null) eval.add(new double[] {e.step(), e.evalLoss()});
        }
        double maxStep = 1, low = Double.POSITIVE_INFINITY, high = Double.NEGATIVE_INFINITY;
        for (List<double[]> series : List.of(train, eval)) {
            for (double[] point : series) {
                maxStep = Math.max(maxStep, point[0]);
                low = Math.min(low, point[1]);
                high = Math.max(high, point[1]);
            }
        }
        if (low > high) {
            low = 0;
            high = 1;
        }
        if (high - low < 1e-9) {
            low -= 0.5;
            high += 0.5;
        }
        Ticks yTicks = Ticks.of(low - 0.04 * (high - low), high + 0.04 * (high - low), 6, false);
        Ticks xTicks = Ticks.of(0, maxStep, 8, true);
        double plotW = WIDTH - LEFT - RIGHT, plotH = HEIGHT - TOP - BOTTOM;
        DoubleUnaryOperator px = step -> LEFT + (step - xTicks.low) / (xTicks.high - xTicks.low) * plotW;
        DoubleUnaryOperator py = loss -> TOP + (yTicks.high - loss) / (yTicks.high - yTicks.low) * plotH;

        for (double y : yTicks.values) {
            canvas.line(LEFT, py.applyAsDouble(y), LEFT + plotW, py.applyAsDouble(y), GRID, 1);
            canvas.line(LEFT - 5, py.applyAsDouble(y), LEFT, py.applyAsDouble(y), AXIS, 1);
            canvas.text(LEFT - 8, py.applyAsDouble(y) + 4, yTicks.format(y), Anchor.END, 12, false, false, AXIS);
        }
        for (double x : xTicks.values) {
            canvas.line(px.applyAsDouble(x), TOP, px.applyAsDouble(x), TOP + plotH, GRID, 1);
            canvas.line(px.applyAsDouble(x), TOP + plotH, px.applyAsDouble(x), TOP + plotH + 5, AXIS, 1);
            canvas.text(px.applyAsDouble(x), TOP + plotH + 19, xTicks.format(x), Anchor.MIDDLE, 12, false, false, AXIS);
        }
        canvas.line(LEFT, TOP, LEFT, TOP + plotH, AXIS, 1.5);
        canvas.line(LEFT, TOP + plotH, LEFT + plotW, TOP + plotH, AXIS, 1.5);
        canvas.text(LEFT + plotW / 2, HEIGHT - 16, "optimizer step", Anchor.MIDDLE, 14, false, false, AXIS);
        canvas.text(22, TOP + plotH / 2, "loss (mean cross-entropy, nats)", Anchor.MIDDLE, 14, false, true, AXIS);
        canvas.text(WIDTH / 2.0, 28, title, Anchor.MIDDLE, 16, true, false, AXIS);

        canvas.polyline(scaled(train, px, py), TRAIN, 1.5);
        List<double[]> evalPoints = scaled(eval, px, py);
        canvas.polyline(evalPoints, EVAL, 2);
        for (double[] point : evalPoints) canvas.dot(point[0], point[1], 3.5, EVAL);

        double legendX = LEFT + plotW - 150, legendY = TOP + 18;
        canvas.line(legendX, legendY - 4, legendX + 26, legendY - 4, TRAIN, 2);
        canvas.text(legendX + 34, legendY, "training loss", Anchor.START, 13, false, false, AXIS);
        if (!eval.isEmpty()) {
            canvas.line(legendX, legendY + 16, legendX + 26, legendY + 16, EVAL, 2);
            canvas.dot(legendX + 13, legendY + 16, 3.5, EVAL);
            canvas.text(legendX + 34, legendY + 20, "held-out loss", Anchor.START, 13, false, false, AXIS);
        }
    }

    private static List<double[]> scaled(List<double[]> series, DoubleUnaryOperator px,
                                         DoubleUnaryOperator py) {
        List<double[]> points = new ArrayList<>(series.size());
        for (double[] p : series) points.add(new double[] {px.applyAsDouble(p[0]), py.applyAsDouble(p[1])});
        return points;
    }

    /** Round tick values (1, 2 or 5 × 10^k apart) covering [low, high]. */
    static final class Ticks {
        final double low, high, step;
        final List<Double> values = new ArrayList<>();

        private Ticks(double low, double high, double step) {
            this.low = low;
            this.high = high;
            this.step = step;
            long first = Math.round(Math.ceil(low / step - 1e-9));
            for (long k = first; k * step <= high + 1e-9 * step; k++) values.add(k * step);
        }

        static Ticks of(double low, double high, int count, boolean integers) {
            double raw = (high - low) / count;
            double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
            double step = magnitude;
            for (double factor : new double[] {1, 2, 5, 10}) {
                step = factor * magnitude;
                if (step >= raw) break;
            }
            if (integers) step = Math.max(1, Math.round(step));
            return new Ticks(Math.floor(low / step) * step, Math.ceil(high / step) * step, step);
        }

        String format(double value) {
            int decimals = Math.max(0, (int) -Math.floor(Math.log10(step) + 1e-9));
            return String.format(Locale.ROOT, "%." + decimals + "f", value);
        }
    }

    /** Draws on a java.awt image. */
    private static final class ImageCanvas implements Canvas {
        private final Graphics2D g;

        ImageCanvas(Graphics2D g) {
            this.g = g;
        }

        @Override
        public void line(double x1, double y1, double x2, double y2, Color color, double width) {
            g.setColor(color);
            g.setStroke(new BasicStroke((float) width));
            g.draw(new Line2D.Double(x1, y1, x2, y2));
        }

        @Override
        public void polyline(List<double[]> points, Color color, double width) {
            if (points.size() < 2) return;
            Path2D.Double path = new Path2D.Double();
            path.moveTo(points.get(0)[0], points.get(0)[1]);
            for (double[] p : points.subList(1, points.size())) path.lineTo(p[0], p[1]);
            g.setColor(color);
            g.setStroke(new BasicStroke((float) width, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            g.draw(path);
        }

        @Override
        public void dot(double x, double y, double radius, Color color) {
            g.setColor(color);
            g.fill(new Ellipse2D.Double(x - radius, y - radius, 2 * radius, 2 * radius));
        }

        @Override
        public void text(double x, double y, String text, Anchor anchor, int size, boolean bold, boolean rotated,
                         Color color) {
            g.setFont(new Font(Font.SANS_SERIF, bold ? Font.BOLD : Font.PLAIN, size));
            g.setColor(color);
            FontMetrics metrics = g.getFontMetrics();
            int width = metrics.stringWidth(text);
            double shift = switch (anchor) {
                case START -> 0;
                case MIDDLE -> -width / 2.0;
                case END -> -width;
            };
            AffineTransform saved = g.getTransform();
            g.translate(x, y);
            if (rotated) g.rotate(-Math.PI / 2);
            g.drawString(text, (float) shift, 0f);
            g.setTransform(saved);
        }
    }

    /** Writes SVG elements by hand. */
    private static final class SvgCanvas implements Canvas {
        private final StringBuilder body = new StringBuilder();

        @Override
        public void line(double x1, double y1, double x2, double y2, Color color, double width) {
            body.append("  <line x1=\"").append(n(x1)).append("\" y1=\"").append(n(y1)).append("\" x2=\"").append(n(x2))
                    .append("\" y2=\"").append(n(y2)).append("\" stroke=\"").append(hex(color))
                    .append("\" stroke-width=\"").append(n(width)).append("\"/>\n");
        }

        @Override
        public void polyline(List<double[]> points, Color color, double width) {
            if (points.size() < 2) return;
            body.append("  <polyline fill=\"none\" stroke=\"").append(hex(color))
                    .append("\" stroke-width=\"").append(n(width)).append("\" stroke-linejoin=\"round\" points=\"");
            for (int i = 0; i < points.size(); i++) {
                body.append(i == 0 ? "" : " ").append(n(points.get(i)[0])).append(',').append(n(points.get(i)[1]));
            }
            body.append("\"/>\n");
        }

        @Override
        public void dot(double x, double y, double radius, Color color) {
            body.append("  <circle cx=\"").append(n(x)).append("\" cy=\"").append(n(y))
                    .append("\" r=\"").append(n(radius)).append("\" fill=\"").append(hex(color)).append("\"/>\n");
        }

        @Override
        public void text(double x, double y, String text, Anchor anchor, int size, boolean bold, boolean rotated,
                         Color color) {
            String textAnchor = switch (anchor) {
                case START -> "start";
                case MIDDLE -> "middle";
                case END -> "end";
            };
            body.append("  <text x=\"").append(n(x)).append("\" y=\"").append(n(y))
                    .append("\" font-size=\"").append(size).append("\" text-anchor=\"").append(textAnchor)
                    .append("\" fill=\"").append(hex(color)).append('"');
            if (bold) body.append(" font-weight=\"bold\"");
            if (rotated) body.append(" transform=\"rotate(-90 ").append(n(x)).append(' ').append(n(y)).append(")\"");
            body.append('>').append(escape(text)).append("</text>\n");
        }

        String document() {
            return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + WIDTH + "\" height=\"" + HEIGHT
                    + "\" viewBox=\"0 0 " + WIDTH + " " + HEIGHT + "\" font-family=\"sans-serif\">\n"
                    + "  <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n" + body + "</svg>\n";
        }

        private static String n(double value) {
            return String.format(Locale.ROOT, "%.2f", value);
        }

        private static String hex(Color color) {
            return String.format(Locale.ROOT, "#%06x", color.getRGB() & 0xffffff);
        }

        private static String escape(String text) {
            return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
        }
    }
}
