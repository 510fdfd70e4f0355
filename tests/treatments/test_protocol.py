from treatments import protocol


def test_the_fixed_protocol_is_31_sites_and_155_units():
    sites = protocol.FIXED_SITES
    assert len(sites) == 31
    assert len(sites) * protocol.UNITS_PER_SITE == protocol.STANDARD_TOTAL_UNITS == 155
    sides = [site.side for site in sites]
    assert (sides.count("L"), sides.count("R"), sides.count("M")) == (15, 15, 1)


def test_each_muscle_has_its_label_site_count():
    counts = {
        code: sum(1 for s in protocol.FIXED_SITES if s.muscle == code) for code in protocol.MUSCLES
    }
    assert counts == {"COR": 2, "PRO": 1, "FRO": 4, "TEM": 8, "OCC": 6, "CPS": 4, "TRA": 6}


def test_follow_the_pain_reaches_195_units_at_39_sites():
    extra = sum(m.ftp_extra_sites for m in protocol.MUSCLES.values())
    assert 31 + extra == protocol.MAX_SITES == 39
    assert (31 + extra) * protocol.UNITS_PER_SITE == protocol.MAX_TOTAL_UNITS == 195


def test_follow_the_pain_caps_per_muscle():
    caps = {
        code: (m.ftp_max_units, m.ftp_max_sites)
        for code, m in protocol.MUSCLES.items()
        if m.allows_ftp
    }
    assert caps == {"TEM": (50, 10), "OCC": (40, 8), "TRA": (50, 10)}
    assert {site.muscle for site in protocol.FTP_SITES} == {"TEM", "OCC", "TRA"}


def test_site_codes_are_stable_and_continue_the_numbering():
    assert protocol.FIXED_SITES[:4] == (
        protocol.Site("COR-L", "COR", "L", 1, False),
        protocol.Site("COR-R", "COR", "R", 1, False),
        protocol.Site("PRO-M", "PRO", "M", 1, False),
        protocol.Site("FRO-L1", "FRO", "L", 1, False),
    )
    assert [s.code for s in protocol.FTP_SITES if s.muscle == "TEM"] == [
        "TEM-L5",
        "TEM-L6",
        "TEM-R5",
        "TEM-R6",
    ]
    assert len(set(protocol.SITE_CODES)) == len(protocol.SITE_CODES) == 47
