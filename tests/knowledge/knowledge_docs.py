"""Small documents in the formats fixed in TEAM.md (FMEA and ticket CSV columns), written by hand,
and a minimal PDF writer (nothing is downloaded)."""

from __future__ import annotations

FMEA_CSV = """equipment_type,subsystem,failure_mode,symptoms,alarm_codes,checks,actions,severity,occurrence,detection
DRYETCH-X,rf,RF match network degradation,RF_REFL_W:up; MATCH_C1_POS_PCT:down; MATCH_C2_POS_PCT:up; RF_VDC_V:down,E-RF-101; E-RF-102,read RF reflected power trend; check match capacitor positions,replace the load vacuum capacitor; re-tune the match,7,4,3
DRYETCH-X,vacuum,throttle valve sticking,THROTTLE_POS_PCT:up; CHAMBER_PRESS_MTORR:up,E-VAC-201; E-VAC-202,plot throttle position; run valve learn cycle,clean or replace the throttle valve flapper,6,5,4
DRYETCH-X,vacuum,dry pump degradation,PUMP_CURRENT_A:up; PUMP_TEMP_C:up; FORELINE_PRESS_TORR:up; THROTTLE_POS_PCT:up,E-VAC-210; E-VAC-211,trend pump current and temperature,exchange the dry pump,5,5,3
DRYETCH-X,vacuum,chamber vacuum leak,CHAMBER_PRESS_MTORR:up; OES_N2_INT:up; THROTTLE_POS_PCT:up,E-VAC-220; E-VAC-221,rate-of-rise test; helium leak check,replace the damaged lid O-ring,8,3,3
DRYETCH-X,chuck,electrostatic chuck temperature non-uniformity,CHUCK_TEMP_EDGE_C:up; HE_BACKSIDE_FLOW_SCCM:up; HE_BACKSIDE_PRESS_TORR:down; ESC_CURRENT_UA:up,E-CHK-401; E-CHK-402,check He backside leak rate,replace the electrostatic chuck,7,4,4
DRYETCH-X,gas,O2 mass flow controller drift,O2_FLOW_SCCM:up; OES_ENDPOINT_INT:down,E-GAS-161,compare MFC reading with rate-of-rise flow check,recalibrate or replace the O2 MFC,6,4,5
PECVD-X,thermal,susceptor heater degradation,HEATER_POWER_PCT:up; HEATER_Z2_TEMP_C:down; HEATER_Z1_TEMP_C:down,E-TMP-301; E-TMP-302,measure heater zone resistance,replace the susceptor heater,7,3,4
PECVD-X,gas,SiH4 mass flow controller drift,SIH4_FLOW_SCCM:down; OES_SIH_INT:down; OES_H_INT:down,E-GAS-151; E-GAS-152,compare MFC reading with rate-of-rise flow check,recalibrate the SiH4 MFC,6,5,5
"""

TICKETS_CSV = """ticket_id,opened,equipment_id,chamber_id,equipment_type,symptom_text,sensors,alarm_codes,root_cause,failure_mode,action,downtime_h
TK-0001,2025-11-02T08:10:00,ETCH-01,ETCH-01/A,DRYETCH-X,"Reflected RF power climbing, the match keeps hunting and the plasma flickers",RF_REFL_W:up; MATCH_C1_POS_PCT:down,E-RF-101,worn load capacitor in the RF match,RF match network degradation,replaced the load capacitor and re-tuned the match,7.5
TK-0002,2025-11-05T14:00:00,ETCH-02,ETCH-02/B,DRYETCH-X,Chamber pressure oscillating around set point and throttle position noisy,THROTTLE_POS_PCT:up; CHAMBER_PRESS_MTORR:up,E-VAC-201,deposits on the throttle valve flapper,throttle valve sticking,cleaned the flapper and re-learned the valve,5
TK-0003,2025-11-09T02:30:00,ETCH-01,ETCH-01/B,DRYETCH-X,Pump noisy and hot; foreline pressure higher than usual,PUMP_CURRENT_A:up; PUMP_TEMP_C:up; FORELINE_PRESS_TORR:up,E-VAC-210; E-VAC-211,dry pump rotor deposits and worn bearings,dry pump degradation,exchanged the dry pump,11
TK-0004,2025-11-12T19:45:00,CVD-01,CVD-01/A,PECVD-X,Film thin at the glass edge; outer heater zone cold while heater power is high,HEATER_POWER_PCT:up; HEATER_Z2_TEMP_C:down,E-TMP-301,outer-zone heater element aged,susceptor heater degradation,replaced the susceptor heater,12
TK-0005,2025-11-20T10:00:00,ETCH-02,ETCH-02/A,DRYETCH-X,Base pressure and rate of rise high after the lid was opened; nitrogen line in the OES,CHAMBER_PRESS_MTORR:up; OES_N2_INT:up,E-VAC-220,lid O-ring pinched during PM,chamber vacuum leak,replaced the lid O-ring and leak-checked,8
"""

MANUAL_MD = """# DRYETCH-X maintenance manual

Scope: ICP dry etch cluster tool for G4.5 glass.

## RF subsystem

The RF generator feeds the ICP coil through an automatic match network with two vacuum capacitors.

### Alarm codes

E-RF-101 means reflected power above limit. E-RF-102 means the match could not tune in time.
Both point to RF match network degradation when they repeat on consecutive lots.

## Vacuum subsystem

The dry pump and the throttle valve hold the chamber pressure.

### Leak checking

A chamber vacuum leak shows as a high rate of rise. Run a helium leak check around the lid and slit valve.

## Electrostatic chuck

Helium backside cooling keeps the glass temperature uniform; a worn chuck surface leaks helium at the edge.
"""


def minimal_pdf(pages: list[list[str]], title: str = "") -> bytes:
    """A valid PDF with one Helvetica text line per list item (built by hand, nothing downloaded)."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_obj = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td"]
        for line in lines:
            esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({esc}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 2 * i} 0 R "
                       f"/Resources << /Font << /F1 {font_obj} 0 R >> >> >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    info = None
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
        info = len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R" + (f" /Info {info} 0 R" if info else "") + " >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
