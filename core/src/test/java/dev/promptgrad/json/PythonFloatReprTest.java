package dev.promptgrad.json;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Doubles formatted as Python's repr. The table was printed by CPython 3.11's json.dumps for each value
 * (bit pattern first, so no decimal parsing sits between Python and the test).
 */
class PythonFloatReprTest {

    private static final Object[][] PYTHON = {
            {0x3FB999999999999AL, "0.1"},
            {0x3FC999999999999AL, "0.2"},
            {0x3FD3333333333333L, "0.3"},
            {0x3FD5555555555555L, "0.3333333333333333"},
            {0x3FE5555555555555L, "0.6666666666666666"},
            {0x3EE4F8B588E368F1L, "1e-05"},
            {0x3F1A36E2EB1C432DL, "0.0001"},
            {0x3F50624DD2F1A9FCL, "0.001"},
            {0x3EEF75104D551D69L, "1.5e-05"},
            {0x4341C37937E08000L, "1e+16"},
            {0x430C6BF526340000L, "1000000000000000.0"},
            {0x437B69B4BA630F35L, "1.2345678901234568e+17"},
            {0x4340000000000000L, "9007199254740992.0"},
            {0x4480F0CF064DD592L, "1e+22"},
            {0x44B52D02C7E14AF6L, "1e+23"},
            {0x0000000000000001L, "5e-324"},
            {0x0010000000000000L, "2.2250738585072014e-308"},
            {0x7FEFFFFFFFFFFFFFL, "1.7976931348623157e+308"},
            {0x438F67EA69ED3795L, "2.82879384806159e+17"},
            {0xBFF4000000000000L, "-1.25"},
            {0x4059000000000000L, "100.0"},
            {0x54B249AD2594C37DL, "1e+100"},
            {0x400921F9F01B866EL, "3.14159"},
            {0x4005BF0A8B145769L, "2.718281828459045"},
            {0x3FE0000000000000L, "0.5"},
            {0x3E7AD7F29ABCAF48L, "1e-07"},
            {0x3ED23EC6E52C3F23L, "4.35e-06"},
            {0x40EFFC0000000000L, "65504.0"},
            {0x444B1AE4D6E2EF50L, "1e+21"},
            {0x4132D68700000000L, "1234567.0"},
            {0x3FD3333333333334L, "0.30000000000000004"},
            {0x0000000000000002L, "1e-323"},
            {0x3F0A36E2EB1C432DL, "5e-05"},
            {0x3C36B082C2148B8EL, "1.23e-18"},
            {0x44DFE185CA57C517L, "6.02214076e+23"},
            {0xBF1A36E2EB1C432DL, "-0.0001"},
            {0x3F1CD5F99C38B04BL, "0.00011"},
            {0x3F33A92A30553262L, "0.00030000000000000003"},
            {0x3E70000000000000L, "5.960464477539063e-08"},
            {0x43B0000000000000L, "1.152921504606847e+18"},
            {0x3F1A36E2EB1C432CL, "9.999999999999999e-05"},
            {0x3EB0000000000000L, "9.5367431640625e-07"},
            {0xF2A74DE452E6B438L, "-1.989032661366619e+244"},
            {0x6513270E269E0D37L, "7.761117632285041e+178"},
            {0x0C5C7FD0A6A3A450L, "3.980498358697587e-249"},
            {0xD23F0824128B2F33L, "-1.5432835417340557e+88"},
            {0x1818E811892F902BL, "1.3647584518757569e-192"},
            {0x9531985D5D9DC9F8L, "-1.3701135617873088e-206"},
            {0xE8E25D940ED90475L, "-1.7160537630466207e+197"},
            {0x36F675CC81E74EF5L, "6.294675241195386e-44"},
            {0x1600A35A099950D8L, "1.0613447212142254e-202"},
            {0x6B0D549B6F03675AL, "4.708325160387546e+207"},
            {0x3D9C172411E20B8FL, "6.387016158513563e-12"},
            {0x8D116ECE1738F7D9L, "-9.973130378568733e-246"},
            {0x0F21DDB66CAD4A26L, "8.779753225680271e-236"},
            {0x90C192CFD3AC94AFL, "-5.795503248498993e-228"},
            {0xF28C105D1FB17C23L, "-5.988180159386011e+243"},
            {0xA170B33839263059L, "-1.306052388527796e-147"},
            {0x953F48F1A09F76B5L, "-2.436117699484841e-206"},
            {0x0FD630F1F29D0DA9L, "2.233386999150174e-232"},
            {0x95E60AF593BD04CFL, "-3.51527970626667e-203"},
            {0x0CB1E29C658CDA14L, "1.5987381841032883e-247"},
            {0x3A1E2FAE4F9778E5L, "9.525102111858401e-29"},
            {0x3B2B66C64C0B2F60L, "1.1332979587418524e-23"},
            {0xBB7FCB18B4ED9E01L, "-4.207814273366474e-22"},
            {0x40F3DDBC564780EFL, "81371.77106428494"},
            {0xC469F49F1BAE6774L, "-3.830363517961313e+21"},
            {0x3ADC29DE9A2071E3L, "3.640053895224091e-25"},
            {0x41D85199324FF4F1L, "1632003273.249325"},
            {0xBAE82659EBC48840L, "-6.2425794642571295e-25"},
            {0x3A52E9DD32531E9DL, "9.548893141911563e-28"},
            {0x419EB17529112D06L, "128736586.26677331"},
            {0xC0ECB70840000000L, "-58808.2578125"},
            {0x4120EBB320000000L, "554457.5625"},
            {0x4104E39DE0000000L, "171123.734375"},
            {0xBF9C591220000000L, "-0.027683528140187263"},
            {0x3FAE24FB40000000L, "0.05887589603662491"},
            {0xC020B9CE00000000L, "-8.362899780273438"},
            {0x4014283E80000000L, "5.039300918579102"},
            {0x40125B0A20000000L, "4.5889058113098145"},
            {0x3E8D3F9B60000000L, "2.1791804272197624e-07"},
            {0xC0F2A62D80000000L, "-76386.84375"},
    };

    @Test
    void matchesPythonJsonDumps() {
        for (Object[] row : PYTHON) {
            double value = Double.longBitsToDouble((Long) row[0]);
            assertEquals(row[1], PythonFloatRepr.of(value), () -> "bits " + Long.toHexString((Long) row[0]));
            String text = (String) row[1];
            String negated = text.startsWith("-") ? text.substring(1) : "-" + text;
            assertEquals(negated, PythonFloatRepr.of(-value), "the sign is only a prefix");
        }
    }

    @Test
    void zerosAndSwitchPoints() {
        assertEquals("0.0", PythonFloatRepr.of(0.0));
        assertEquals("-0.0", PythonFloatRepr.of(-0.0));
        assertEquals("0.0001", PythonFloatRepr.of(1e-4));
        assertEquals("9.999999999999999e-05", PythonFloatRepr.of(Math.nextDown(1e-4)));
        assertEquals("9999999999999998.0", PythonFloatRepr.of(Math.nextDown(1e16)));
        assertEquals("1e+16", PythonFloatRepr.of(1e16));
        assertEquals("1.0", PythonFloatRepr.of(1.0));
        assertEquals("12.0", PythonFloatRepr.of(12.0));
    }

    @Test
    void randomDoublesRoundTripWithNoMoreDigitsThanJava() {
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 3_000; i++) {
            double value = Double.longBitsToDouble(random.nextLong());
            if (!Double.isFinite(value)) continue;
            String repr = PythonFloatRepr.of(value);
            assertEquals(value, Double.parseDouble(repr), repr);
            assertTrue(significantDigits(repr) <= significantDigits(Double.toString(value)),
                    () -> repr + " is longer than Java's " + value);
        }
    }

    @Test
    void refusesNonFiniteValues() {
        assertThrows(IllegalArgumentException.class, () -> PythonFloatRepr.of(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> PythonFloatRepr.of(Double.POSITIVE_INFINITY));
    }

    private static int significantDigits(String text) {
        String mantissa = text.split("[eE]")[0].replace("-", "").replace(".", "");
        mantissa = mantissa.replaceFirst("^0+", "").replaceFirst("0+$", "");
        return Math.max(1, mantissa.length());
    }
}
