"""English article texts of the layout set, written for this repository (see README.md there).

Each story is the ground truth of one page: its paragraphs are the article body; the layouts in build.py wrap
them in a site's chrome and boilerplate.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    authors: tuple[str, ...]
    date: str  # ISO date, the publication day
    paragraphs: tuple[str, ...]
    editors: tuple[str, ...] = ()  # named on the page as editors, never authors
    photo_credit: str | None = None  # a caption's credit, never an author
    entries: tuple[tuple[str, str, str], ...] = field(default=())  # live blog: (time, heading, text)


# ---- The Mining Record: table layout, windows-1252, "Name – date" in a <font> tag --------------------------

MINING_RECORD = [
    Story(
        "eneabba-refinery",
        "Iluka’s Eneabba refinery wins state approval",
        ("Margaret O’Neill",),
        "2025-03-04",
        (
            "Western Australia’s environment regulator has cleared Iluka Resources’ rare earths refinery at"
            " Eneabba, removing the last state hurdle for a plant the company says will be the first fully"
            " integrated refinery in the country.",
            "The approval covers the processing of up to 60,000 tonnes a year of monazite concentrate, stockpiled"
            " at the site for more than a decade after it was separated from mineral sands.",
            "“This is a milestone for the project and for the region,” managing director Tom O’Leary said in a"
            " statement. The company expects first production in 2027.",
            "The federal government has lent Iluka A$1.65 billion under its critical minerals facility, and the"
            " refinery is budgeted at between A$1.7 billion and A$1.8 billion.",
            "Local shire councillors welcomed the decision, saying the project would bring about 300 jobs during"
            " construction and 230 once the plant is running.",
        ),
    ),
    Story(
        "mt-weld-expansion",
        "Lynas lifts Mt Weld output as Kalgoorlie plant ramps up",
        ("Daniel Fraser",),
        "2025-02-18",
        (
            "Lynas Rare Earths produced 2,000 tonnes of neodymium-praseodymium oxide in the December quarter, up"
            " 18% on the previous three months, as its Kalgoorlie cracking and leaching plant moved towards"
            " nameplate capacity.",
            "The miner said sales revenue rose to A$142 million, although the average selling price of A$46.5 a"
            " kilogram remained well below the levels of 2022.",
            "Chief executive Amanda Lacaze told analysts that the expanded concentrator at Mt Weld had performed"
            " “better than we planned” and that feed grades would rise through the year.",
            "Shares in the company closed 4.2% higher at A$7.31.",
        ),
    ),
    Story(
        "browns-range-pilot",
        "Northern Minerals restarts Browns Range pilot plant",
        ("Kerry-Ann Hughes",),
        "2025-01-29",
        (
            "Northern Minerals has restarted its pilot plant at Browns Range in the Kimberley after a two-year"
            " pause, aiming to produce a mixed dysprosium and terbium carbonate for offtake partners.",
            "The company said the first bags of xenotime concentrate had been filled on Monday, and that ore"
            " sorting trials had cut waste by almost a third.",
            "Dysprosium and terbium are added to neodymium magnets so that they keep their strength at the high"
            " temperatures of electric vehicle motors.",
            "The restart follows a federal order last year that forced several Chinese-linked shareholders to sell"
            " down their stakes in the company on national interest grounds.",
            "Executive chairman Adam Handley said the company was “in discussions with a number of parties” about"
            " funding a commercial-scale plant.",
            "The pilot plant will run for about six months.",
        ),
    ),
    Story(
        "hastings-yangibana",
        "Hastings trims Yangibana budget after review",
        ("Paul Whitaker",),
        "2024-11-12",
        (
            "Hastings Technology Metals has cut the expected cost of its Yangibana rare earths project in the"
            " Gascoyne by A$90 million after a review of the beneficiation plant design.",
            "The company said it would now build the concentrator in two stages, with the first treating 1 million"
            " tonnes of ore a year, and defer the hydrometallurgical plant originally planned for Onslow.",
            "Investors have grown wary of rare earths developers as oxide prices slumped, and Hastings’ shares have"
            " lost more than 80% of their value in two years.",
            "The company said the revised plan needed about A$350 million of funding, and that talks with export"
            " credit agencies in Germany and South Korea were continuing.",
        ),
    ),
    Story(
        "mount-holland-water",
        "Mine water plan draws objections in Goldfields town",
        ("Rebecca Lindqvist",),
        "2024-10-02",
        (
            "Residents of a small Goldfields town have lodged more than 120 objections to a plan by a rare earths"
            " explorer to draw groundwater from an aquifer that supplies local farms.",
            "The company wants to take up to 1.2 gigalitres a year for a trial processing plant, according to"
            " documents lodged with the state water department.",
            "“We are not against mining, but we only get one aquifer,” said farmer Graham Pell, who chairs the"
            " local catchment group.",
            "The department said it would hold a public meeting in the town hall on October 21 before deciding on"
            " the licence, and that it was considering a cap on the volume drawn during dry months.",
            "The explorer said its modelling showed no measurable effect on bores more than four kilometres from"
            " the site.",
        ),
    ),
    Story(
        "cobalt-blue-broken-hill",
        "Council backs magnet recycling plant at Broken Hill",
        ("Daniel Fraser",),
        "2024-09-17",
        (
            "Broken Hill City Council has voted to sell an industrial site to a start-up that plans to recover"
            " neodymium and dysprosium from scrapped hard drives and wind turbine magnets.",
            "The company, founded by two former university researchers, says its process dissolves the magnets at"
            " room temperature and uses about a tenth of the acid of conventional methods.",
            "Councillors voted six to three in favour. Those against said the price, A$410,000, was too low for"
            " land close to the town’s rail freight terminal.",
            "The plant would process 1,000 tonnes of magnet scrap a year in its first stage, the company said.",
        ),
    ),
]

# ---- Rare Metals Gazette: table layout, paragraphs split by <br><br>, "By X" in running text ---------------

METALS_GAZETTE = [
    Story(
        "vietnam-dong-pao",
        "Vietnam reopens tender for Dong Pao rare earth mine",
        ("Jane Whitfield",),
        "2025-04-08",
        (
            "Vietnam’s industry ministry has reopened a tender for the Dong Pao rare earth mine in Lai Chau"
            " province, a year after the arrest of several executives at companies involved in the sector.",
            "The mine holds one of the largest known rare earth deposits in the country, but has produced little"
            " since a licence was granted more than a decade ago.",
            "Officials said the new tender would require bidders to build processing capacity in Vietnam rather"
            " than export raw ore, in line with a national strategy adopted in 2022.",
            "Several Japanese and South Korean companies are understood to be interested, according to two people"
            " familiar with the process who declined to be named because the talks are private.",
            "Bids are due by the end of September.",
        ),
        photo_credit="Nguyen Van Thanh/Getty Images",
    ),
    Story(
        "malaysia-export-ban",
        "Malaysia confirms ban on raw rare earth exports",
        ("Ahmad Rizal",),
        "2025-03-20",
        (
            "Malaysia will ban exports of unprocessed rare earths to stop the loss of the resource and to build a"
            " processing industry at home, the prime minister’s office said on Thursday.",
            "The country has an estimated 16.1 million tonnes of non-radioactive rare earth deposits, most of them"
            " in ionic clays similar to those mined in southern China.",
            "The ban would take effect once the necessary regulations were drafted, officials said, without giving"
            " a date.",
            "Malaysia already hosts the largest rare earths separation plant outside China, operated by Lynas at"
            " Kuantan on the east coast of the peninsula.",
        ),
        photo_credit="Reuters/Lai Seng Sin",
    ),
    Story(
        "brazil-serra-verde",
        "Serra Verde begins commercial output in Goiás",
        ("Lucas Almeida", "Sarah Brennan"),
        "2025-02-11",
        (
            "Serra Verde has started commercial production at its ionic clay rare earths mine in the Brazilian"
            " state of Goiás, the first such operation outside Asia.",
            "The company, backed by Denham Capital and the US-based Energy and Minerals Group, said it would"
            " produce a mixed rare earth concentrate rich in dysprosium and terbium.",
            "Ionic clays are prized because the heavy rare earths can be leached from them with mild salt"
            " solutions, without the crushing and acid roasting hard rock ores require.",
            "The company expects to reach 5,000 tonnes of concentrate a year by 2026, most of which will go to"
            " separation plants in China under existing contracts.",
            "Brazil’s mines ministry called the start “a turning point” for the sector.",
            "Environmental groups have raised concerns about the leaching agents used at similar mines in Myanmar,"
            " which have contaminated rivers near the border with China.",
        ),
    ),
    Story(
        "greenland-tanbreez",
        "Greenland approves exploitation licence for Tanbreez",
        ("Jane Whitfield",),
        "2024-12-03",
        (
            "Greenland’s government has granted an exploitation licence for the Tanbreez rare earth project in the"
            " south of the island, the first for the metals since a ban on uranium mining halted the nearby"
            " Kvanefjeld project.",
            "Tanbreez holds eudialyte, a mineral low in radioactive elements, which its owners say makes it easier"
            " to mine and process.",
            "The licence requires the company to hire local workers for at least 75% of jobs once the mine is"
            " operating.",
        ),
        photo_credit="Critical Metals Corp.",
    ),
    Story(
        "kazakhstan-discovery",
        "Kazakhstan reports large rare earth find near Karaganda",
        ("Olga Petrenko",),
        "2024-10-22",
        (
            "Kazakhstan’s industry ministry said geologists had found a rare earth deposit with estimated"
            " resources of up to 20 million tonnes near the central city of Karaganda.",
            "The ministry said the site, named Zhana Kazakhstan, contained cerium, lanthanum, neodymium and"
            " yttrium, and that further drilling would be needed to confirm the figures.",
            "Independent geologists cautioned that the estimate reflected depth projections to 300 metres rather"
            " than a reserve under international reporting codes.",
            "The government has sought European and American partners for its critical minerals sector, and signed"
            " a memorandum with the European Union in 2022.",
        ),
    ),
]

# ---- Metals Wire: the story in a bare <div> among siblings of the same size; "Reporting by X; Editing by Y" --

METALS_WIRE = [
    Story(
        "china-export-licences",
        "China grants first export licences for seven rare earths",
        ("Amy Lv", "Dominique Patton"),
        "2025-06-05",
        (
            "China has issued the first export licences for seven medium and heavy rare earths since it put them"
            " under export control in April, three industry sources said on Thursday.",
            "The licences were granted to at least three magnet makers supplying car companies in Europe and the"
            " United States, the sources said, declining to be named because they were not authorised to speak to"
            " the media.",
            "Shipments of the metals and of magnets containing them fell by about three quarters in May, according"
            " to customs data, forcing some European car parts makers to halt production lines.",
            "The commerce ministry said last week it had sped up approvals for “compliant” applications but gave no"
            " figures.",
            "Licences are valid for six months and cover a single customer, the sources said.",
        ),
        editors=("Tony Munroe",),
    ),
    Story(
        "mp-materials-magnets",
        "MP Materials starts trial magnet output in Texas",
        ("Ernest Scheyder",),
        "2025-01-15",
        (
            "MP Materials has begun trial production of neodymium magnets at its Fort Worth plant, the company said"
            " on Wednesday, a step towards a US supply chain for the parts used in electric vehicle motors.",
            "The company said it would supply General Motors from the end of the year, under a contract signed in"
            " 2021, and that the plant could eventually make 1,000 tonnes of magnets a year.",
            "MP mines and concentrates rare earths at Mountain Pass in California, and has been commissioning its"
            " own separation circuits there.",
            "“We are now producing at every step from ore to magnet,” chief executive James Litinsky said.",
        ),
        editors=("Leslie Adler",),
    ),
    Story(
        "japan-stockpile",
        "Japan to expand rare earth stockpile as prices slide",
        ("Yuka Obayashi",),
        "2024-11-27",
        (
            "Japan will spend about 10 billion yen to expand its stockpile of rare earths and other minor metals,"
            " the industry ministry said on Wednesday, taking advantage of low prices.",
            "The state agency JOGMEC manages the reserve, which is meant to cover 60 days of domestic demand for"
            " most metals, and longer for those with few suppliers.",
            "Officials did not say which metals would be bought. Japan imports about 60% of its rare earths from"
            " China, down from more than 90% in 2010, when Beijing briefly halted shipments during a territorial"
            " dispute.",
            "Prices of neodymium oxide in China have fallen by about half since early 2023.",
            "Separately, the ministry said it would support a Japanese trading house in developing a deposit in"
            " Australia.",
        ),
        editors=("Kenneth Maxwell", "Christian Schmollinger"),
    ),
    Story(
        "myanmar-kachin",
        "Rebel seizure of Myanmar mining hub disrupts rare earth flows",
        ("Shoon Naing", "Eduardo Baptista"),
        "2024-10-30",
        (
            "The seizure of a rare earth mining hub in Myanmar’s Kachin state by an ethnic armed group has"
            " disrupted shipments to China, the world’s biggest processor of the materials, traders said.",
            "Imports of rare earth ores and oxides from Myanmar fell 40% in September from a year earlier, Chinese"
            " customs data showed.",
            "The Kachin Independence Army took control of Pangwa and Chipwi, towns at the centre of the trade, in"
            " October, and has said it will impose new taxes on the mines.",
            "Heavy rare earths mined in Myanmar supply about half of China’s dysprosium and terbium.",
        ),
        editors=("Louise Heavens",),
    ),
    Story(
        "eu-strategic-projects",
        "EU names 47 strategic raw material projects",
        ("Kate Abnett", "Philip Blenkinsop"),
        "2025-03-25",
        (
            "The European Commission on Tuesday selected 47 projects to boost domestic production of raw materials"
            " such as lithium and rare earths, which will get faster permits and help with financing.",
            "Ten of the projects involve rare earths, including mines in Sweden and Norway, a separation plant in"
            " Estonia and two magnet recycling sites in France.",
            "The Critical Raw Materials Act sets a target for the EU to mine 10% of the materials it uses, process"
            " 40% and recycle 25% by 2030.",
            "Industry groups said the financing on offer was too small. “Permits are only half the story,” said one"
            " association.",
            "The Commission said a second call would open in the coming weeks.",
        ),
        editors=("Jan Harvey",),
    ),
]

# ---- PR Wire: press releases ---------------------------------------------------------------------------------

PRESS = [
    Story(
        "aclara-heavy-rare-earths",
        "Aclara Resources Announces Pilot Plant Results for Heavy Rare Earths Separation",
        (),
        "2025-05-13",
        (
            'TORONTO, May 13, 2025 /PRWire/ -- Aclara Resources Inc. ("Aclara" or the "Company") is pleased to'
            " announce results from its pilot separation plant, which produced dysprosium and terbium oxides at a"
            " purity above 99.5%.",
            "The pilot plant processed heavy rare earth concentrate from the Company's Carina Module in Goiás,"
            " Brazil, over a continuous campaign of 1,200 hours.",
            '"These results confirm that our flowsheet works at scale," said Ramón Barúa, Chief Executive Officer.'
            ' "We are now moving to the detailed engineering of a commercial separation facility in the United'
            ' States."',
            "Highlights of the campaign:",
            "Dysprosium oxide purity of 99.7%",
            "Terbium oxide purity of 99.6%",
            "Reagent consumption 12% below the design assumption",
            "About Aclara Resources Inc.",
            "Aclara is a development company focused on heavy rare earths from ionic clay deposits in Brazil and"
            " Chile, and on their separation in the United States.",
            "For further information, please contact: Investor Relations, ir@aclara.example, +1 416 555 0199",
        ),
    ),
    Story(
        "ucore-louisiana",
        "Ucore Awarded US Department of Defense Funding for Louisiana Facility",
        (),
        "2025-02-27",
        (
            'HALIFAX, NS, Feb. 27, 2025 /PRWire/ -- Ucore Rare Metals Inc. ("Ucore") announced today that its'
            " subsidiary has been awarded US$18.4 million by the US Department of Defense to demonstrate heavy"
            " rare earth separation at its Strategic Metals Complex in Alexandria, Louisiana.",
            "The award funds the commissioning of the Company's RapidSX technology on a commercial scale, with"
            " first production of separated oxides expected in 2026.",
            '"This funding is a vote of confidence in North American processing," said Pat Ryan, Chairman and'
            " Chief Executive Officer.",
            "About Ucore Rare Metals Inc.",
            "Ucore is focused on rare- and critical-metal resources, extraction, beneficiation and separation"
            " technologies with the potential for production, growth and scalability.",
            "Forward-Looking Statements: This press release includes certain statements that may be deemed"
            " forward-looking statements. Actual results may differ materially.",
        ),
    ),
    Story(
        "neo-narva-magnets",
        "Neo Performance Materials Opens Magnet Plant in Narva, Estonia",
        (),
        "2025-09-19",
        (
            "TORONTO and NARVA, Estonia, Sept. 19, 2025 /PRWire/ -- Neo Performance Materials Inc. today opened"
            " its rare earth magnet manufacturing plant in Narva, Estonia, the first of its size in Europe.",
            "The plant will produce 2,000 tonnes of sintered neodymium-iron-boron magnets a year in its first"
            " phase, rising to 5,000 tonnes, for the automotive and wind industries.",
            "Estonia's Prime Minister attended the opening alongside customers and suppliers from eight countries.",
            '"Europe now has a magnet plant at scale," said Rahim Suleman, President and CEO of Neo.',
            "About Neo Performance Materials",
            "Neo manufactures the building blocks of many modern technologies, including rare earth magnets,"
            " magnetic powders and separated rare earth oxides, with operations in 10 countries.",
            "Contact: Media Relations, media@neo.example",
        ),
    ),
    Story(
        "energy-fuels-dysprosium",
        "Energy Fuels Produces First Dysprosium Oxide at White Mesa Mill",
        (),
        "2025-08-05",
        (
            "LAKEWOOD, Colo., Aug. 5, 2025 /PRWire/ -- Energy Fuels Inc. announced today that it has produced its"
            " first kilograms of dysprosium oxide at its White Mesa Mill in Utah, from monazite sands.",
            "The company expects to produce commercial quantities of dysprosium and terbium from 2026, once"
            " additional circuits are built at the mill.",
            '"Heavy rare earths are the bottleneck for magnets outside China," said Mark S. Chalmers, President and'
            ' CEO. "Today we showed they can be made in the United States again."',
            "About Energy Fuels",
            "Energy Fuels is a leading US producer of uranium, rare earth elements and vanadium, headquartered in"
            " Lakewood, Colorado.",
        ),
    ),
    Story(
        "arafura-offtake",
        "Arafura Signs Binding Offtake with Korean Magnet Maker",
        (),
        "2025-04-02",
        (
            "PERTH, Australia, April 2, 2025 /PRWire/ -- Arafura Rare Earths Ltd (ASX: ARU) has signed a binding"
            " offtake agreement with a Korean magnet manufacturer for up to 1,200 tonnes a year of NdPr oxide from"
            " its Nolans Project in the Northern Territory.",
            "The agreement runs for seven years from first production, with prices linked to a market index and a"
            " floor price.",
            "Arafura has now contracted about 75% of Nolans' planned output.",
            "About Arafura Rare Earths",
            "Arafura is developing the Nolans Project, 135 kilometres north of Alice Springs, to produce separated"
            " rare earth oxides for permanent magnets.",
            "Media: Investor Relations, +61 8 5555 0100",
        ),
    ),
]

# ---- The Daily Ledger: live blogs ----------------------------------------------------------------------------

LIVE = [
    Story(
        "live-trade-talks",
        "Live: US and China resume trade talks in London",
        ("Sam Rivera", "Priya Nair"),
        "2025-06-09",
        (),
        entries=(
            (
                "16:05",
                "Talks adjourn for the day",
                "Delegations left Lancaster House shortly after 4pm. A US official said the discussions had been"
                " “productive” and would continue on Tuesday morning.",
            ),
            (
                "14:30",
                "Rare earths top the agenda",
                "Two people briefed on the talks said export licences for rare earth magnets were the first item"
                " raised by the US side, after car makers warned of shortages.",
            ),
            (
                "12:10",
                "Markets steady",
                "European shares were little changed at midday. Shares in Lynas Rare Earths rose 3% in Sydney"
                " overnight on hopes of a deal.",
            ),
            (
                "10:00",
                "Delegations arrive",
                "The US Treasury Secretary and Commerce Secretary arrived at Lancaster House, followed minutes"
                " later by China’s vice premier and his team.",
            ),
        ),
    ),
    Story(
        "live-budget-day",
        "Budget day live: what it means for mining",
        ("Tom Ellison",),
        "2025-03-25",
        (),
        entries=(
            (
                "19:45",
                "Critical minerals tax credit confirmed",
                "The Treasurer confirmed the 10% production tax credit for processing critical minerals, worth"
                " about $7 billion over ten years. Miners’ lobby groups welcomed the measure.",
            ),
            (
                "19:32",
                "Treasurer begins speech",
                "The Treasurer has started his budget speech in the House of Representatives, promising “cost of"
                " living relief and a future made here”.",
            ),
            (
                "17:00",
                "What we expect",
                "Economists expect a small deficit, with lower iron ore prices weighing on company tax receipts."
                " Industry will be watching for details of the critical minerals program.",
            ),
        ),
    ),
    Story(
        "live-storm",
        "Cyclone Alfred live: port closures and power cuts",
        ("Hannah Cole", "Marcus Webb"),
        "2025-03-07",
        (),
        entries=(
            (
                "21:15",
                "Port of Brisbane stays closed",
                "The harbour master said the port would remain closed to shipping until at least Sunday. Bulk"
                " carriers have been moved offshore.",
            ),
            (
                "18:40",
                "More than 80,000 homes without power",
                "Energex said crews could not start repairs until winds eased, and asked residents to stay away"
                " from fallen lines.",
            ),
            (
                "15:20",
                "Schools closed on Monday",
                "The state education department said about 1,000 schools in the southeast would stay closed on"
                " Monday as a precaution.",
            ),
            (
                "11:05",
                "Cyclone slows offshore",
                "The Bureau of Meteorology said the system had slowed to about 7 km/h and was likely to cross the"
                " coast overnight on Friday.",
            ),
        ),
    ),
    Story(
        "live-earnings",
        "Results day live: miners report half-year profits",
        ("Priya Nair",),
        "2025-02-20",
        (),
        entries=(
            (
                "13:50",
                "Iluka holds its dividend",
                "Iluka Resources kept its interim dividend at 4 cents a share despite a 20% fall in mineral sands"
                " earnings, saying the refinery build was on budget.",
            ),
            (
                "11:30",
                "Lynas profit falls",
                "Lynas reported a half-year net profit of A$5.9 million, down from A$84 million a year earlier, as"
                " lower prices offset higher volumes.",
            ),
            (
                "09:15",
                "Good morning",
                "Welcome to our coverage of results day. Three of the country’s biggest miners report this"
                " morning, and we will bring you the numbers as they land.",
            ),
        ),
    ),
]

# ---- Magnet Notes: a blog whose article is a bare <div> among siblings of the same size ---------------------

MAGNET_NOTES = [
    Story(
        "why-dysprosium",
        "Why dysprosium matters more than neodymium",
        ("Laura Chen",),
        "2025-05-12",
        (
            "Most coverage of rare earth supply focuses on neodymium, the element that gives a magnet its"
            " strength. But the harder problem is dysprosium, which keeps a magnet working when it gets hot.",
            "A motor in an electric car can reach 150 degrees Celsius. Without a few per cent of dysprosium or"
            " terbium, a neodymium magnet loses its magnetism at those temperatures.",
            "Almost all of the world’s dysprosium comes from ionic clays in southern China and Myanmar. New mines"
            " elsewhere are mostly rich in the light rare earths instead.",
            "Manufacturers have cut the amount needed with a technique called grain boundary diffusion, which puts"
            " the dysprosium only where it is needed, on the surface of each grain.",
            "Even so, demand is expected to double by 2030. That is why the export controls announced this spring"
            " hurt more than the numbers suggest.",
        ),
    ),
    Story(
        "magnet-recycling-economics",
        "The economics of magnet recycling, in three numbers",
        ("Laura Chen",),
        "2025-04-03",
        (
            "Recycling rare earth magnets sounds like an obvious answer to supply worries. The numbers are less"
            " obvious.",
            "First: less than 1% of rare earths are recycled today. Most magnets sit inside products, glued in"
            " place, and are shredded with the rest of the steel.",
            "Second: a hard drive holds about 10 grams of magnet. Collecting enough of them to feed a plant takes a"
            " logistics network, not just a process.",
            "Third: recycled oxide costs about the same to make as mined oxide when prices are high, and more when"
            " they are low, as they are now.",
        ),
    ),
    Story(
        "motor-without-magnets",
        "Can motors do without rare earth magnets?",
        ("Oskar Lindgren",),
        "2025-02-21",
        (
            "Several car makers have announced motors that use no rare earths at all. It is worth asking what they"
            " give up.",
            "Induction motors, used by Tesla in its early cars, need no magnets, but are less efficient at low"
            " speeds, which costs range in city driving.",
            "Externally excited synchronous motors, which BMW and Renault use, replace the magnets with copper"
            " windings on the rotor. They are heavier and need a way to feed current to a spinning part.",
            "Ferrite magnets are cheap and plentiful but about a third as strong, so the motor has to be bigger for"
            " the same power.",
            "None of these is a free lunch. But each lowers the exposure of a car maker to a single supplier.",
            "My guess is that we will see a mix, with rare earth magnets kept for the models where every kilogram"
            " counts.",
        ),
    ),
    Story(
        "reading-price-reports",
        "How to read a rare earth price report",
        ("Laura Chen",),
        "2024-12-09",
        (
            "Rare earths are not traded on an exchange, so the prices you read are assessments by reporting"
            " agencies based on deals they hear about.",
            "The most quoted figure is for neodymium-praseodymium oxide in China, including value added tax. Prices"
            " outside China are usually higher and less frequently reported.",
            "Watch the spread between the two. When it widens, buyers outside China are paying for security of supply.",
        ),
    ),
    Story(
        "visiting-bayan-obo",
        "Notes from a visit to Baotou",
        ("Oskar Lindgren",),
        "2024-10-14",
        (
            "Baotou, in Inner Mongolia, calls itself the rare earth capital of the world, and the city leaves you in"
            " no doubt: street lamps are shaped like the atoms of the elements.",
            "The Bayan Obo mine, 150 kilometres to the north, is an iron ore mine first. The rare earths come out"
            " with the iron and are separated downstream.",
            "The tailings lake west of the city covers about 11 square kilometres. Local officials said a project to"
            " reprocess it was under way.",
            "What struck me most was the scale of the magnet parks, where dozens of companies make everything from"
            " powders to finished rotors.",
        ),
    ),
]
