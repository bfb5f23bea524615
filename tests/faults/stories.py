"""Distinct rare-earth stories for the fault suite: one per fault that should still end in a stored article.

Every story has its own sentences (no shared paragraphs), so none is an exact or near copy of another and a
story stored twice can only mean a real duplicate. Off-topic stories are the irrelevant controls.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.newsweb import Story

_BASE = datetime.fromisoformat("2026-03-10T08:00:00+00:00")


def _story(index: int, slug: str, title: str, author: str, *paragraphs: str) -> Story:
    return Story(
        slug=slug,
        title=title,
        author=author,
        published=_BASE - timedelta(hours=7 * index),
        paragraphs=paragraphs,
        site="Rare Earth Wire",
    )


STORIES: tuple[Story, ...] = (
    _story(
        0,
        "iluka-eneabba-refinery",
        "Iluka wins approval to start commissioning the Eneabba rare earth refinery",
        "Grace Holloway",
        "Iluka Resources said regulators in Western Australia had cleared it to begin commissioning the "
        "Eneabba rare earth refinery, which will turn monazite stockpiles into separated neodymium, "
        "praseodymium, dysprosium and terbium oxides.",
        "The refinery is backed by a government loan of more than one billion dollars and is meant to give "
        "Australian magnet supply chains an alternative to separation plants in Jiangxi and Inner Mongolia.",
        "Engineers will bring the cracking and leaching circuits online first, followed by solvent extraction "
        "trains that separate the light rare earths from the heavy ones over several hundred stages.",
        "Iluka told investors that first saleable heavy rare earth oxide should ship to customers in Japan and "
        "Korea within eighteen months, subject to the ramp-up of the kiln and the acid plant.",
    ),
    _story(
        1,
        "arafura-nolans-offtake",
        "Arafura signs neodymium offtake with German carmaker for Nolans project",
        "Tobias Brandt",
        "Arafura Rare Earths signed a binding offtake agreement with a German carmaker for neodymium and "
        "praseodymium oxide from its Nolans project in the Northern Territory, the company said on Tuesday.",
        "The contract covers several hundred tonnes of NdPr oxide a year for seven years and includes a floor "
        "price intended to protect the mine from the price swings that followed Chinese export quotas.",
        "Arafura still needs to close its project finance package, and the offtake was seen by analysts as the "
        "last commercial condition demanded by export credit agencies in Germany and Canada.",
        "The carmaker said it wanted rare earth magnets for its electric drive motors that could be traced back "
        "to a mine outside China, to satisfy European critical raw materials rules.",
    ),
    _story(
        2,
        "neo-narva-magnet-plant",
        "Neo Performance Materials opens sintered magnet plant in Narva, Estonia",
        "Kadri Tamm",
        "Neo Performance Materials opened its sintered rare earth magnet plant in Narva, Estonia, the first "
        "large NdFeB magnet factory in Europe in decades, at a ceremony attended by the prime minister.",
        "The plant will use separated neodymium and praseodymium oxide from Neo's own facility in Sillamae and "
        "from suppliers in Australia to produce magnets for wind turbines and electric vehicle traction motors.",
        "Neo said the first phase would make two thousand tonnes of magnets a year, rising to five thousand "
        "tonnes if European automakers sign longer contracts for the finished rare earth components.",
        "Executives said grain boundary diffusion would keep the plant's use of dysprosium and terbium low, "
        "cutting exposure to heavy rare earth supply that China controls almost entirely.",
    ),
    _story(
        3,
        "energy-fuels-white-mesa-dysprosium",
        "Energy Fuels produces first dysprosium oxide at White Mesa mill in Utah",
        "Ruth Calder",
        "Energy Fuels said its White Mesa mill in Utah had produced its first pilot batch of dysprosium oxide, "
        "adding a heavy rare earth to the neodymium-praseodymium oxide the mill already separates.",
        "The company processes monazite sand bought from heavy mineral sands miners in the south-eastern "
        "United States and Brazil, recovering uranium as well as rare earth carbonate from the ore.",
        "Energy Fuels said the terbium circuit would follow later in the year and that defence contractors had "
        "asked for samples to qualify the oxide for magnets used in guided munitions and aircraft.",
        "Shares rose after the announcement, as investors bet that American heavy rare earth production would "
        "command a premium over Chinese material under new procurement restrictions.",
    ),
    _story(
        4,
        "china-northern-price-list",
        "China Northern Rare Earth raises listed NdPr oxide price for the third month",
        "Zhou Ming",
        "China Northern Rare Earth raised its listed price for neodymium-praseodymium oxide for the third month "
        "in a row, citing tight ore supply from the Bayan Obo mine and strong orders from magnet makers.",
        "The Baotou-based producer sets monthly prices that are closely watched by traders, and the new level is "
        "the highest since the start of last year, according to data from Shanghai Metals Market.",
        "Prices of terbium and dysprosium oxide were left unchanged, but spot quotes for heavy rare earths rose in "
        "Ganzhou after customs data showed a fall in imports of concentrate from Myanmar.",
        "Magnet makers in Ningbo said they had passed part of the increase on to customers making motors for "
        "air conditioners and electric vehicles.",
    ),
    _story(
        5,
        "usa-rare-earth-stillwater",
        "USA Rare Earth begins magnet production trials in Stillwater, Oklahoma",
        "Dale Whitaker",
        "USA Rare Earth said it had begun production trials at its neodymium magnet plant in Stillwater, "
        "Oklahoma, using equipment it bought from a former Hitachi factory in North Carolina.",
        "The company plans to source rare earth feedstock from its Round Top deposit in Texas, which holds "
        "heavy rare earths including dysprosium and terbium along with lithium and gallium.",
        "Until the deposit is developed, USA Rare Earth will buy separated neodymium oxide from suppliers in "
        "allied countries, a chief executive told a conference of defence buyers in Washington.",
        "Analysts said the magnet line would help reduce American dependence on Chinese NdFeB magnets, which "
        "supply almost all of the motors used by United States carmakers.",
    ),
    _story(
        6,
        "shenghe-greenland-stake",
        "Shenghe Resources raises its stake in a Greenland rare earth project",
        "Nils Jensen",
        "Shenghe Resources, the Chinese rare earth processor, raised its stake in a Greenland rare earth project "
        "near Narsaq, according to a filing with the Shanghai stock exchange on Wednesday.",
        "The Kvanefjeld deposit contains large amounts of light rare earths as well as uranium, and the local "
        "government has banned uranium mining, leaving the project in a long legal dispute.",
        "Shenghe also holds interests in rare earth mines in Madagascar and in the United States, and processes "
        "concentrate from around the world at its separation plants in Sichuan and Jiangsu.",
        "Officials in Copenhagen said they would review the transaction under new screening rules for "
        "investments in critical minerals, which cover rare earths, graphite and cobalt.",
    ),
    _story(
        7,
        "jiangxi-ionic-clay-inspections",
        "Jiangxi steps up inspections of ionic clay rare earth mines in Ganzhou",
        "Liu Fang",
        "Authorities in Jiangxi province have stepped up inspections of ionic clay rare earth mines around "
        "Ganzhou, closing several pits that leached heavy rare earths with ammonium sulphate without permits.",
        "The ionic clay deposits of southern China are the world's main source of dysprosium, terbium and "
        "yttrium, but the in-situ leaching method has contaminated rivers and farmland for decades.",
        "Inspectors said they had found illegal leaching ponds hidden in bamboo forests and would prosecute "
        "operators who sold rare earth concentrate outside the state quota system.",
        "Traders said the campaign had pushed up prices of mixed heavy rare earth carbonate, which separation "
        "plants in Longnan and Xunwu buy to feed their solvent extraction lines.",
    ),
    _story(
        8,
        "mp-materials-heavy-separation",
        "MP Materials commissions heavy rare earth separation at Mountain Pass",
        "Karen Osei",
        "MP Materials said it had commissioned a heavy rare earth separation circuit at Mountain Pass, allowing "
        "the California mine to produce samarium, dysprosium and terbium products for the first time.",
        "The company has until now shipped its heavy rare earths to China for processing, a practice that ended "
        "after Beijing imposed export licences and Washington raised tariffs on rare earth trade.",
        "MP Materials said the new circuit would supply its magnet factory in Fort Worth, Texas, where it makes "
        "NdFeB magnets for a carmaker in Detroit and for defence customers.",
        "The Pentagon, which is now MP's largest shareholder, agreed to buy samarium products at a guaranteed "
        "price to support samarium-cobalt magnet production for missiles and fighter jets.",
    ),
    _story(
        9,
        "myanmar-kachin-border-closure",
        "Fighting near Myanmar rare earth mines halts truck traffic to Yunnan",
        "Aung Kyaw",
        "Fighting between the army and an ethnic armed group near the rare earth mines of Kachin state has halted "
        "truck traffic to the border crossings with Yunnan, traders in Tengchong said on Friday.",
        "Myanmar's Kachin mines supply a large share of the heavy rare earth concentrate processed in China, "
        "including most of the dysprosium and terbium used in high-temperature magnets.",
        "The armed group took control of the mining district last year and has since taxed every shipment of "
        "rare earth carbonate, raising costs for Chinese buyers who rely on the feedstock.",
        "Prices of dysprosium oxide in China rose three per cent on the news, and analysts warned that a long "
        "closure would tighten supply for magnet makers across Asia.",
    ),
    _story(
        10,
        "lynas-texas-plant-review",
        "Lynas reviews plans for Texas heavy rare earth plant after cost rise",
        "Priya Raman",
        "Lynas Rare Earths said it was reviewing plans for a heavy rare earth separation plant in Seadrift, "
        "Texas, after engineering studies showed costs well above the Pentagon's original estimate.",
        "The plant was meant to process mixed rare earth carbonate from the Mount Weld mine in Western Australia "
        "and to produce dysprosium and terbium oxide for American defence manufacturers.",
        "Lynas said it remained committed to a United States presence and was talking with the Department of "
        "Defense about the contract, which covers part of the construction cost.",
        "The company has already begun producing heavy rare earths at its Malaysian refinery in Kuantan, which "
        "it expanded to separate samarium and other heavy elements last year.",
    ),
    _story(
        11,
        "eu-critical-raw-materials-magnets",
        "EU names rare earth magnet recycling projects as strategic under raw materials act",
        "Claire Dubois",
        "The European Commission named several rare earth magnet recycling projects as strategic under the "
        "Critical Raw Materials Act, giving them faster permits and access to public finance.",
        "Among them is a plant in France that will recover neodymium, praseodymium and dysprosium from scrap "
        "magnets taken out of hard disk drives, wind turbines and electric motors.",
        "Europe imports almost all of its rare earth magnets from China, and the act sets a target of recycling "
        "a quarter of the critical minerals the bloc uses by the end of the decade.",
        "Recyclers said collection of end-of-life magnets remained the biggest obstacle, as most scrap motors are "
        "shredded with other metals before the rare earths can be separated.",
    ),
    _story(
        12,
        "japan-jogmec-lanthanum-stockpile",
        "Japan's JOGMEC adds cerium and lanthanum to its rare earth stockpile",
        "Kenji Watanabe",
        "Japan Organization for Metals and Energy Security added cerium and lanthanum to the national rare earth "
        "stockpile, alongside the neodymium and dysprosium it has held since the 2010 supply crisis.",
        "Cerium is used in catalytic converters and glass polishing, while lanthanum goes into camera lenses, "
        "hybrid car batteries and the catalysts that crack crude oil in refineries.",
        "Officials said the stockpile now covers about two months of domestic rare earth consumption and would "
        "be released to manufacturers if Chinese export controls disrupted deliveries.",
        "JOGMEC has also financed Lynas and other producers outside China, helping Japanese magnet makers "
        "diversify their rare earth supply over the past fifteen years.",
    ),
    _story(
        13,
        "brazil-ionic-clay-pilot",
        "Brazilian ionic clay miner produces first mixed rare earth carbonate in Goias",
        "Marina Costa",
        "A Brazilian miner produced its first mixed rare earth carbonate from ionic clay in Goias state, becoming "
        "one of the few producers of heavy rare earths from clay deposits outside southern China.",
        "The deposit is rich in dysprosium and terbium, and the company said it used a magnesium sulphate leach "
        "that avoids the ammonium pollution seen at Chinese ionic clay mines.",
        "The carbonate will be shipped for separation to a refinery in Estonia under a supply agreement, and "
        "later to a separation plant the company plans to build near the mine.",
        "Brazil has the third largest rare earth reserves in the world, and the government has offered tax breaks "
        "to projects that add processing capacity in the country.",
    ),
    _story(
        14,
        "vietnam-rare-earth-export-ban",
        "Vietnam bans exports of unprocessed rare earth ore to build a local refining industry",
        "Nguyen Thi Lan",
        "Vietnam banned exports of unprocessed rare earth ore and concentrate, saying it wanted foreign investors "
        "to build refining and separation plants in the country instead of shipping raw material abroad.",
        "The country holds some of the largest rare earth reserves outside China, mostly in the north-west near "
        "the border, but produces only small amounts of separated oxides today.",
        "Several foreign companies had planned to mine the Dong Pao deposit and ship concentrate to refineries in "
        "Asia, and some said the ban would force them to revise their plans.",
        "Officials said rare earth processing would be treated as a strategic industry and that licences would "
        "favour investors who bring separation and magnet making technology.",
    ),
    _story(
        15,
        "india-ire-samarium-magnets",
        "India's IREL starts samarium-cobalt magnet plant in Visakhapatnam",
        "Arjun Mehta",
        "IREL, India's state rare earth company, started a samarium-cobalt magnet plant in Visakhapatnam to "
        "supply the country's space and defence programmes with magnets made at home.",
        "IREL mines monazite from beach sands in Kerala and Odisha and separates rare earth oxides at its plant "
        "in Chavara, but has until now sold most of its neodymium to buyers abroad.",
        "The government has asked IREL to stop exporting neodymium to Japan so that domestic magnet makers can "
        "use it, as India tries to build a rare earth supply chain for electric vehicles.",
        "Officials said the plant would make samarium-cobalt magnets for satellites and missiles, where heat "
        "resistance matters more than the strength of NdFeB magnets.",
    ),
)

OFF_TOPIC: tuple[Story, ...] = (
    Story(
        slug="cup-final-report",
        title="Extra-time penalty wins the cup final for the visitors",
        author="Sam Jones",
        published=_BASE,
        paragraphs=(
            "A penalty in the second half of extra time settled the cup final on Saturday, after the holders had "
            "come back from two goals down in the last ten minutes of normal time.",
            "The winning side's captain lifted the trophy in front of travelling supporters who had filled the "
            "away end hours before kick-off, singing through a heavy rain shower.",
            "The manager said the victory was the best moment of his career and thanked the players for their "
            "resilience in a season disrupted by injuries to the first-choice goalkeeper.",
            "Both clubs will meet again in the league next month, when the losing side will hope for revenge in "
            "front of a sold-out home crowd.",
        ),
        site="Sports Desk",
    ),
)


def by_slug(slug: str) -> Story:
    return next(story for story in (*STORIES, *OFF_TOPIC) if story.slug == slug)
