"""The demo's tax-assistant questions, each with the facts a good and a bad answer are built from.

The rules form an illustrative rulebook, loosely modelled on a continental European income-tax system and consistent
within the demo. They are demo content, not tax advice. Each `Case` holds one question with the correct specific
answer, the rule behind it, practical steps, a confidently wrong variant (and the correction a reviewer would write),
and a vague non-answer; `core.demo.load` composes the two chatbot versions' answers from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from random import Random


@dataclass(frozen=True)
class Case:
    topic: str
    question: str
    direct: str  # the correct, specific answer
    rule: str  # "the ...": the rule it follows from, with its figures
    steps: tuple[str, str]
    wrong: str  # a confident answer with a wrong figure, deadline or rule
    correction: str  # what a reviewer writes about `wrong`
    vague: str  # a non-answer


def eur(amount: float) -> str:
    return f"€{amount:,.0f}" if float(amount).is_integer() else f"€{amount:,.2f}"


PERSONAS = (
    "I'm a nurse.",
    "I work as a software developer.",
    "I'm a teacher.",
    "My partner and I file jointly.",
    "I'm a student with a part-time job.",
    "I work in sales and travel a lot.",
    "I'm an employee at a logistics company.",
    "I just started my first job.",
)
FREELANCERS = (
    "I'm a freelance graphic designer.",
    "I run a small bakery.",
    "I'm a self-employed translator.",
    "I do IT consulting on the side.",
    "I sell handmade jewellery online.",
    "I'm a freelance photographer.",
)


def _ask(rng: Random, personas: tuple[str, ...], *questions: str) -> str:
    question = rng.choice(questions)
    return f"{rng.choice(personas)} {question}" if rng.random() < 0.6 else question


def _home_office(rng: Random, year: int) -> Case:
    days = rng.randrange(40, 260, 5)
    amount = min(days, 210) * 6
    cap = " (the 210-day cap applies)" if days > 210 else ""
    return Case(
        "deductions",
        _ask(
            rng,
            PERSONAS,
            f"I worked from home on {days} days in {year}. How much can I deduct for my home office?",
            f"How much is the home-office deduction for {year} if I was at home {days} days?",
            f"My employer let me work remotely {days} days in {year}. Can I claim anything for that?",
        ),
        f"For {days} home-office days you can deduct {eur(amount)} for {year}{cap}.",
        "the home-office flat rate: €6 for each day you work mainly from home, for at most 210 days a year (€1,260).",
        (
            "Keep a simple log of your home-office days; a calendar export is enough.",
            "Enter the days under work-related expenses; no separate room is needed for the flat rate.",
        ),
        f"You can deduct {eur(days * 10)}: it is €10 for every day at home, with no upper limit.",
        f"The flat rate is €6 a day for at most 210 days ({eur(amount)} here), not €10 a day without a limit.",
        "You can probably deduct something for working from home, depending on your setup.",
    )


def _commuting(rng: Random, year: int) -> Case:
    km, days = rng.randrange(4, 61), rng.randrange(120, 231, 5)
    amount = round(days * (min(km, 20) * 0.30 + max(km - 20, 0) * 0.38), 2)
    return Case(
        "deductions",
        _ask(
            rng,
            PERSONAS,
            f"My office is {km} km from home and I went in on {days} days in {year}. What can I deduct?",
            f"How does the commuting allowance work for a {km} km trip, {days} days in {year}?",
        ),
        f"For {days} days at {km} km one way, the commuting allowance is {eur(amount)} for {year}.",
        "the commuting allowance: €0.30 per kilometre of the one-way distance for the first 20 km and €0.38 from "
        "the 21st km, per working day, whatever transport you use.",
        (
            "Use the shortest road distance, not the route you happen to drive.",
            "Enter it under work-related expenses; tax-free travel refunds from your employer reduce it.",
        ),
        f"You get {eur(round(days * km * 2 * 0.30, 2))}: €0.30 for every kilometre there and back.",
        "Only the one-way distance counts (€0.30/km, €0.38 from km 21); counting both ways doubles it.",
        "Commuting costs are often deductible in some form, so it may be worth including them.",
    )


def _donations(rng: Random, year: int) -> Case:
    income, gift = rng.randrange(28_000, 95_000, 1_000), rng.randrange(200, 9_000, 50)
    limit = income * 0.2
    deductible = min(gift, limit)
    return Case(
        "deductions",
        _ask(
            rng,
            PERSONAS,
            f"I donated {eur(gift)} to a registered charity in {year} and earned {eur(income)}. "
            "How much of the donation is deductible?",
            f"Can I deduct a {eur(gift)} donation on an income of {eur(income)}?",
        ),
        (
            f"You can deduct {eur(deductible)} of the {eur(gift)}: the deduction is capped at 20% of your income."
            if gift > limit
            else f"The whole {eur(gift)} is deductible from your taxable income (the cap, 20% of income, is "
            f"{eur(limit)})."
        ),
        "the donation deduction: gifts to registered charities reduce taxable income by up to 20% of your total "
        "income; the receipt is the proof (up to €300 a bank statement is enough).",
        (
            "Ask the charity for a donation receipt if it has not sent one.",
            "Enter the amount under special expenses, not under work-related expenses.",
        ),
        f"Every euro comes straight off your tax bill, so your tax falls by the full {eur(gift)}.",
        "A donation reduces taxable income (up to 20% of income), not the tax itself euro for euro.",
        "Donations are usually good for your taxes, charities can tell you more.",
    )


def _equipment(rng: Random, year: int) -> Case:
    item = rng.choice(("laptop", "desk", "office chair", "monitor", "phone"))
    price, share = rng.randrange(250, 2_600, 10), rng.choice((50, 60, 70, 80, 90, 100))
    work = round(price * share / 100, 2)
    if price <= 952:
        direct = f"The {item} cost {eur(price)}, so its work share of {eur(work)} is deductible in full in {year}."
    else:
        direct = f"The {item} cost more than €952, so the work share ({eur(work)}) is spread over three years: "
        direct += f"{eur(round(work / 3, 2))} a year."
    return Case(
        "deductions",
        _ask(
            rng,
            PERSONAS,
            f"I bought a {item} for {eur(price)} in {year} and use it {share}% for work. What can I deduct?",
            f"Is a {eur(price)} {item} that I bought in {year} and use {share}% for my job deductible?",
        ),
        direct,
        "the rule for work equipment: items up to €952 including VAT are deducted in full in the year of purchase, "
        "dearer ones over three years, always only for the share used for work.",
        (
            "Keep the invoice and a short note on how you use the item for work.",
            "Enter it under work-related expenses (work equipment).",
        ),
        f"You can deduct the full {eur(price)} right away: anything up to €5,000 counts in full immediately.",
        "Only the work share counts, and only items up to €952 are deducted at once; dearer ones over three years.",
        "Work equipment can often be claimed, at least partly.",
    )


def _vat_rate(rng: Random, year: int) -> Case:
    product, rate = rng.choice(
        (("printed books", 7), ("catering for events", 19), ("website design", 19), ("bread and pastries", 7))
    )
    net = rng.randrange(200, 12_000, 50)
    vat = round(net * rate / 100, 2)
    return Case(
        "VAT",
        _ask(
            rng,
            FREELANCERS,
            f"I sell {product} for {eur(net)} net. How much VAT do I put on the invoice?",
            f"Which VAT rate applies to {product}, and what is the VAT on {eur(net)}?",
        ),
        f"{product.capitalize()} are taxed at {rate}%: the VAT is {eur(vat)} and the invoice total "
        f"{eur(round(net + vat, 2))}.",
        "the VAT rates: 19% standard rate; 7% reduced rate for food and printed books, among a few others.",
        (
            "Show the net amount, the rate and the VAT amount separately on the invoice.",
            "Declare the VAT in the return for the period in which you invoiced.",
        ),
        f"Charge 21% VAT, that is {eur(round(net * 0.21, 2))}, like everywhere in the EU.",
        f"The rate here is {rate}%, not 21%; the rates differ between EU countries.",
        "VAT rates vary a lot between products, so it depends what you sell.",
    )


def _small_business(rng: Random, year: int) -> Case:
    turnover = rng.randrange(6_000, 45_000, 500)
    if turnover <= 22_000:
        direct = (
            f"With {eur(turnover)} of turnover in {year - 1} you may use the small-business scheme in {year}: "
            "no VAT on your invoices, but no input VAT back either."
        )
    else:
        direct = f"With {eur(turnover)} in {year - 1} you are above €22,000, so you must charge VAT in {year}."
    return Case(
        "VAT",
        _ask(
            rng,
            FREELANCERS,
            f"My turnover was {eur(turnover)} in {year - 1}. Do I have to charge VAT in {year}?",
            f"Can I use the small-business VAT exemption in {year} with {eur(turnover)} turnover the year before?",
        ),
        direct,
        "the small-business scheme: no VAT is charged if last year's turnover was at most €22,000 and this "
        "year's is expected to stay under €50,000.",
        (
            "Check this year's expected turnover as well as last year's.",
            "If you use the scheme, say so on each invoice and do not show VAT.",
        ),
        "You only need to charge VAT once your turnover passes €100,000.",
        "The limit is €22,000 last year (and €50,000 expected this year), not €100,000.",
        "Small businesses sometimes do not need to charge VAT, depending on their size.",
    )


def _vat_filing(rng: Random, year: int) -> Case:
    vat = rng.choice((600, 900, 2_400, 4_800, 7_000, 9_500, 14_000, 22_000))
    period = "monthly" if vat > 7_500 else "quarterly" if vat > 1_000 else "once a year"
    return Case(
        "VAT",
        _ask(
            rng,
            FREELANCERS,
            f"I paid {eur(vat)} VAT in {year - 1}. How often do I file VAT returns in {year}?",
            f"Monthly or quarterly VAT returns in {year}? Last year's VAT was {eur(vat)}.",
        ),
        f"With {eur(vat)} of VAT last year you file {period} in {year}, by the 10th day after each period.",
        "the VAT filing periods: monthly above €7,500 of last year's VAT, quarterly above €1,000, otherwise only "
        "the annual return.",
        (
            "File electronically through the tax office's portal.",
            "Consider a one-month extension if you often need more time (a prepayment applies).",
        ),
        "Everyone files VAT once a year with the income tax return, so nothing is due before then.",
        f"With {eur(vat)} last year the period is {period}; not everyone files only once a year.",
        "VAT returns are due regularly, the exact timing depends on the business.",
    )


def _reverse_charge(rng: Random, year: int) -> Case:
    net = rng.randrange(800, 20_000, 100)
    country = rng.choice(("France", "Spain", "Austria", "the Netherlands", "Italy"))
    return Case(
        "VAT",
        _ask(
            rng,
            FREELANCERS,
            f"I invoice {eur(net)} for consulting to a company in {country}. Do I add VAT?",
            f"A business client in {country} ordered services worth {eur(net)}. Which VAT goes on the invoice?",
        ),
        f"No VAT: the {eur(net)} invoice to a business in {country} falls under the reverse charge, so the "
        "client accounts for the VAT.",
        "the reverse charge for services to businesses in other EU countries: the client pays the VAT; you show "
        "both VAT ids and the note 'reverse charge'.",
        (
            "Check the client's VAT id in the EU's VIES database before you invoice.",
            "Report the sale in your EC sales list for that period.",
        ),
        f"Add 19% VAT ({eur(round(net * 0.19, 2))}) as for any client; the client claims it back later.",
        "Services to a business in another EU country fall under the reverse charge: no VAT on the invoice.",
        "Cross-border VAT is complicated and depends on the country.",
    )


def _filing_deadline(rng: Random, year: int) -> Case:
    adviser = rng.random() < 0.4
    due = f"the end of February {year + 2}" if adviser else f"31 July {year + 1}"
    with_adviser = " with a tax adviser" if adviser else ""
    return Case(
        "filing deadlines",
        _ask(
            rng,
            PERSONAS,
            f"When is my {year} tax return due{' if an adviser prepares it' if adviser else ''}?",
            f"What is the deadline for filing the {year} income tax return{with_adviser}?",
        ),
        f"Your {year} return{with_adviser} is due by {due}.",
        "the filing deadline: 31 July of the following year; when a tax adviser files, the end of February of "
        "the year after that.",
        (
            "Put the date in your calendar with a reminder four weeks ahead.",
            "If you cannot make it, ask the tax office for an extension before the deadline.",
        ),
        f"The {year} return is due by 30 June {year + 1}, no exceptions.",
        f"The deadline is {due}, not 30 June.",
        "The deadline is sometime in the following year, so there is usually enough time.",
    )


def _months(n: int) -> str:
    return "1 month" if n == 1 else f"{n} months"


def _late_filing(rng: Random, year: int) -> Case:
    tax, months = rng.randrange(2_000, 30_000, 100), rng.randrange(1, 9)
    per_month = max(round(tax * 0.0025, 2), 25)
    return Case(
        "filing deadlines",
        _ask(
            rng,
            PERSONAS,
            f"I filed my {year} return {_months(months)} late and the assessed tax is {eur(tax)}. What is the penalty?",
            f"What late-filing surcharge applies to {eur(tax)} of tax, filed {_months(months)} late?",
        ),
        f"The surcharge is {eur(per_month)} per month late, so {eur(round(per_month * months, 2))} for "
        f"{_months(months)}.",
        "the late-filing surcharge: 0.25% of the assessed tax for each month started, at least €25 a month.",
        (
            "File as soon as possible: every month started adds to the surcharge.",
            "If illness or another good reason kept you from filing, explain it: the office may waive it.",
        ),
        "There is no penalty as long as you pay the tax in the end.",
        f"A surcharge of 0.25% a month (at least €25) applies: {eur(round(per_month * months, 2))} here.",
        "There might be a fee for filing late, but it is often not a big deal.",
    )


def _objection(rng: Random, year: int) -> Case:
    day, month = rng.randrange(1, 28), rng.choice(("March", "May", "June", "September", "October"))
    nxt = {"March": "April", "May": "June", "June": "July", "September": "October", "October": "November"}[month]
    return Case(
        "filing deadlines",
        _ask(
            rng,
            PERSONAS,
            f"I received my tax assessment on {day} {month} {year + 1} and think it is wrong. Until when can I object?",
            f"How long do I have to challenge a tax assessment that arrived on {day} {month}?",
        ),
        f"You can object until {day} {nxt}: one month after the assessment reached you.",
        "the objection period: one month from receiving the assessment; the objection is free of charge.",
        (
            "Send the objection in writing or through the portal and say which points you contest.",
            "Pay the assessed tax meanwhile, or ask for a suspension of payment.",
        ),
        "You have a full year to object, so you can take your time.",
        "The objection period is one month from receipt, not a year.",
        "You can usually object if you disagree, as long as you do it in time.",
    )


def _prepayments(rng: Random, year: int) -> Case:
    profit = rng.randrange(20_000, 120_000, 1_000)
    return Case(
        "self-employment",
        _ask(
            rng,
            FREELANCERS,
            f"The tax office set prepayments on my expected profit of {eur(profit)}. When are they due in {year}?",
            f"When do I pay income tax prepayments as a self-employed person in {year}?",
        ),
        f"Prepayments are due quarterly: 10 March, 10 June, 10 September and 10 December {year}.",
        "the prepayment rule: quarterly instalments set by the tax office from your last assessed profit.",
        (
            "Set up a direct debit so no instalment is missed.",
            f"If profit drops well below {eur(profit)}, apply to lower the prepayments.",
        ),
        "Self-employed people pay all their income tax once a year, after the annual return.",
        "Prepayments are due quarterly (10 March, June, September, December), not once a year.",
        "You may have to pay some tax during the year, the office will let you know.",
    )


def _registration(rng: Random, year: int) -> Case:
    month = rng.choice(("January", "March", "April", "August", "October"))
    return Case(
        "self-employment",
        _ask(
            rng,
            FREELANCERS,
            f"I started freelancing in {month} {year}. When must I register with the tax office?",
            "Do I need to tell the tax office that I have started a side business?",
        ),
        "Register within one month of starting, using the tax registration questionnaire.",
        "the registration duty: anyone who starts a business registers within one month; the office then issues "
        "a tax number.",
        (
            "Fill in the tax registration questionnaire online.",
            "Put your tax number on every invoice once you have it.",
        ),
        "You only need to register once you have earned €10,000.",
        "Registration is due within one month of starting, whatever the earnings.",
        "At some point you should let the tax office know, probably when things pick up.",
    )


def _business_meals(rng: Random, year: int) -> Case:
    bill = rng.randrange(60, 900, 5)
    return Case(
        "self-employment",
        _ask(
            rng,
            FREELANCERS,
            f"I took a client to dinner; the bill was {eur(bill)} net. How much is deductible?",
            f"Can I deduct a {eur(bill)} business lunch with a client?",
        ),
        f"70% of the net bill is deductible: {eur(round(bill * 0.7, 2))}; the VAT on it can be reclaimed in full.",
        "the business-meal rule: 70% of reasonable costs of hospitality for business reasons; who attended and why "
        "must be noted.",
        (
            "Note on the receipt who attended and what the business reason was.",
            "Ask the restaurant for a machine-printed receipt with its VAT number.",
        ),
        f"Business meals are 100% deductible, so the whole {eur(bill)} counts.",
        "Only 70% of a business meal is deductible, not 100%.",
        "Meals with clients can sometimes be deducted.",
    )


def _bookkeeping(rng: Random, year: int) -> Case:
    turnover = rng.randrange(30_000, 1_200_000, 10_000)
    simple = turnover < 800_000
    return Case(
        "self-employment",
        _ask(
            rng,
            FREELANCERS,
            f"My turnover is about {eur(turnover)}. Do I need double-entry bookkeeping?",
            f"Is a simple cash-basis profit statement enough with {eur(turnover)} turnover?",
        ),
        f"With {eur(turnover)} of turnover "
        + ("a cash-basis profit statement is enough." if simple else "you must keep double-entry books."),
        "the bookkeeping threshold: double-entry books from €800,000 of turnover or €80,000 of profit; below, a "
        "cash-basis profit statement.",
        (
            "Keep all invoices and receipts for ten years.",
            "Bookkeeping software can produce the profit statement directly.",
        ),
        "Every business must keep double-entry books from day one.",
        "Below €800,000 turnover (and €80,000 profit) a cash-basis profit statement is enough.",
        "Bookkeeping rules depend on the type of business.",
    )


def _savers_allowance(rng: Random, year: int) -> Case:
    income, couple = rng.randrange(300, 9_000, 50), rng.random() < 0.35
    allowance = 2_000 if couple else 1_000
    tax = round(max(income - allowance, 0) * 0.25, 2)
    who = "my wife and I" if couple else "I"
    return Case(
        "capital gains",
        _ask(
            rng,
            PERSONAS,
            f"In {year} {who} earned {eur(income)} in interest and dividends. How much tax is due?",
            f"How is {eur(income)} of investment income taxed{' for a couple' if couple else ''}?",
        ),
        f"After the {eur(allowance)} allowance, {eur(max(income - allowance, 0))} is taxed at 25%: {eur(tax)}.",
        "the flat tax on investment income: 25%, after a saver's allowance of €1,000 per person (€2,000 for couples).",
        (
            "Give your bank an exemption order so the allowance is applied at source.",
            "Split the exemption order across banks if you have several accounts.",
        ),
        f"It is taxed at your personal rate of up to 45%, with a {eur(allowance * 5)} allowance.",
        f"Investment income is taxed at a flat 25% after an allowance of {eur(allowance)}.",
        "Investment income is taxed, but there are allowances that can help.",
    )


def _crypto(rng: Random, year: int) -> Case:
    months, gain = rng.randrange(2, 30), rng.randrange(300, 25_000, 50)
    if months >= 12:
        direct = f"Held {months} months, the {eur(gain)} gain is tax-free: private sales after a year are exempt."
    elif gain < 1_000:
        direct = f"The {eur(gain)} gain stays tax-free: short-term gains under €1,000 in total are exempt."
    else:
        direct = f"Held under a year, the whole {eur(gain)} gain is taxed at your personal income tax rate."
    return Case(
        "capital gains",
        _ask(
            rng,
            PERSONAS,
            f"I sold crypto after {months} months with a {eur(gain)} gain. Is it taxed?",
            f"Do I pay tax on {eur(gain)} profit from bitcoin I held for {months} months?",
        ),
        direct,
        "the private-sales rule: gains on crypto held more than one year are tax-free; shorter holdings are taxed "
        "at the personal rate unless the year's private-sale gains stay under €1,000.",
        (
            "Keep the exchange's transaction history with buy and sell dates.",
            "Use first-in, first-out to match sales to purchases.",
        ),
        "Crypto is always tax-free, whatever the holding period.",
        "Only crypto held over a year is tax-free; shorter holdings are taxed above €1,000 of gains.",
        "Crypto taxes are a grey area, so it may or may not be taxed.",
    )


def _share_losses(rng: Random, year: int) -> Case:
    loss = rng.randrange(500, 15_000, 100)
    return Case(
        "capital gains",
        _ask(
            rng,
            PERSONAS,
            f"I lost {eur(loss)} on shares in {year}. Can I offset that against my salary?",
            f"What happens to a {eur(loss)} loss on share sales?",
        ),
        f"No: the {eur(loss)} loss on shares can only be offset against gains on shares, now or in later years.",
        "the share-loss rule: losses from selling shares offset only gains from selling shares; unused losses carry "
        "forward without a time limit.",
        (
            "Ask your bank for a loss certificate by 15 December if you want to use it with another bank.",
            "Otherwise the bank carries the loss forward automatically.",
        ),
        f"Yes, the {eur(loss)} comes off your salary, which lowers your income tax.",
        "Share losses cannot be offset against salary, only against share gains.",
        "Losses can sometimes be useful for tax purposes.",
    )


def _basic_pension(rng: Random, year: int) -> Case:
    paid, couple = rng.randrange(2_000, 40_000, 500), rng.random() < 0.3
    cap = 55_132 if couple else 27_566
    return Case(
        "pensions",
        _ask(
            rng,
            PERSONAS,
            f"I paid {eur(paid)} into a basic pension plan in {year}. How much is deductible?",
            f"Are {eur(paid)} of basic pension contributions deductible{' for a married couple' if couple else ''}?",
        ),
        f"All {eur(min(paid, cap))} is deductible as special expenses"
        + (f" (capped at {eur(cap)})." if paid > cap else f"; the cap is {eur(cap)}."),
        "the basic-pension deduction: contributions are deductible in full up to €27,566 a year (€55,132 for "
        "couples), minus the state pension contributions already counted.",
        (
            "Your provider reports the contributions electronically; check the figure in your return.",
            "State pension contributions count towards the same cap.",
        ),
        "Only €5,000 a year of pension contributions is deductible.",
        f"The cap is {eur(cap)}, not €5,000.",
        "Pension contributions usually help with taxes.",
    )


def _private_pension(rng: Random, year: int) -> Case:
    paid = rng.randrange(300, 3_000, 50)
    return Case(
        "pensions",
        _ask(
            rng,
            PERSONAS,
            f"I pay {eur(paid)} a year into a state-subsidised private pension. What tax benefit do I get?",
            "How much can I deduct for my subsidised private pension contract?",
        ),
        f"Your {eur(paid)} plus the state allowance count as a special deduction of up to €2,100; the office "
        "gives you whichever is better, the allowance or the deduction.",
        "the subsidised-pension rule: contributions plus allowances are deductible up to €2,100 a year; the office "
        "compares this with the allowance automatically.",
        (
            "Make sure the provider has your consent to report the contributions.",
            "Pay at least 4% of last year's income (minus the allowance) to get the full allowance.",
        ),
        "You can deduct up to €6,000 a year, plus the allowance on top.",
        "The special deduction is capped at €2,100 including the allowance, not €6,000.",
        "Private pensions may have some tax benefits.",
    )


def _pensioner_return(rng: Random, year: int) -> Case:
    pension = rng.randrange(9_000, 30_000, 250)
    taxable = round(pension * 0.83)
    must = taxable > 11_604
    return Case(
        "pensions",
        _ask(
            rng,
            ("I'm retired.", "My mother is retired.", "I retired last year."),
            f"My statutory pension is {eur(pension)} a year and {eur(taxable)} of it is taxable. Must I file in 2024?",
            f"Does a pensioner with {eur(taxable)} taxable pension income need to file a return for 2024?",
        ),
        f"With {eur(taxable)} taxable, "
        + (
            "you are above the €11,604 basic allowance, so you must file."
            if must
            else "you are under the €11,604 basic allowance: no return is required, but it can pay off."
        ),
        "the filing duty for pensioners: a return is due when taxable income exceeds the basic allowance (€11,604 "
        "for 2024).",
        (
            "The pension insurer's statement shows the taxable share.",
            "Health and care insurance contributions reduce taxable income.",
        ),
        "Pensioners never have to file a tax return.",
        "Pensioners must file once taxable income exceeds the basic allowance (€11,604 for 2024).",
        "Some pensioners have to file, some do not.",
    )


def _depreciation(rng: Random, year: int) -> Case:
    value, built = rng.randrange(150_000, 700_000, 5_000), rng.choice((1985, 1999, 2010, 2019, 2023, 2024))
    rate = 3 if built > 2022 else 2
    return Case(
        "property",
        _ask(
            rng,
            PERSONAS,
            f"I let a flat built in {built}; the building (without land) cost {eur(value)}. How much depreciation?",
            f"What yearly depreciation can I claim on a rental building worth {eur(value)}, built in {built}?",
        ),
        f"{rate}% a year of the building value: {eur(value * rate / 100)} a year (the land is not depreciated).",
        "the depreciation rule for rented buildings: 2% a year of the building's cost, 3% for buildings completed "
        "after 2022; land is never depreciated.",
        (
            "Split the purchase price between land and building (the tax office has a calculator).",
            "Claim it in the rental income section every year.",
        ),
        f"You can write off 10% a year, {eur(value / 10)}, including the land.",
        f"The rate is {rate}% of the building value, land excluded; not 10%.",
        "Rental buildings can be depreciated over time.",
    )


def _property_sale(rng: Random, year: int) -> Case:
    years, gain = rng.randrange(2, 16), rng.randrange(20_000, 250_000, 5_000)
    free = years >= 10
    return Case(
        "property",
        _ask(
            rng,
            PERSONAS,
            f"I am selling a rented flat I bought {years} years ago with a {eur(gain)} gain. Is the gain taxed?",
            f"Do I pay tax on {eur(gain)} profit from selling an investment flat after {years} years?",
        ),
        f"After {years} years "
        + (
            "the gain is tax-free: the ten-year period has passed."
            if free
            else f"the {eur(gain)} gain is taxed at your personal rate, because the ten-year period has not passed."
        ),
        "the private-sales rule for property: tax-free after ten years of ownership, or if you lived in it yourself "
        "in the year of sale and the two years before.",
        (
            "Count from the notarised purchase date to the notarised sale date.",
            "Deduct selling costs and past depreciation when working out the gain.",
        ),
        "Property gains are tax-free after five years.",
        "The holding period is ten years, not five.",
        "Selling property can have tax effects, depending on the circumstances.",
    )


def _renovation(rng: Random, year: int) -> Case:
    value = rng.randrange(120_000, 500_000, 5_000)
    repairs = rng.randrange(5_000, 90_000, 1_000)
    over = repairs > value * 0.15
    return Case(
        "property",
        _ask(
            rng,
            PERSONAS,
            f"Two years after buying a rental flat (building value {eur(value)}) I spent {eur(repairs)} net on "
            "repairs. Can I deduct them at once?",
            f"Are {eur(repairs)} of repairs right after buying a {eur(value)} rental building deductible?",
        ),
        (
            f"No: {eur(repairs)} is more than 15% of {eur(value)}, so it is added to the building cost and depreciated."
            if over
            else f"Yes: {eur(repairs)} stays under 15% of {eur(value)}, so it is deductible in full this year."
        ),
        "the 15% rule: repairs within three years of purchase above 15% of the building value (net of VAT) count "
        "as acquisition costs and are depreciated, not deducted at once.",
        (
            "Add up all repairs of the first three years, not just this year's.",
            "Keep the invoices; routine yearly maintenance does not count towards the 15%.",
        ),
        "Repairs are always deductible in full in the year you pay them.",
        "Within three years of purchase, repairs above 15% of the building value are depreciated instead.",
        "Renovation costs are often deductible in some way.",
    )


CASES: tuple[Callable[[Random, int], Case], ...] = (
    _home_office,
    _commuting,
    _donations,
    _equipment,
    _vat_rate,
    _small_business,
    _vat_filing,
    _reverse_charge,
    _filing_deadline,
    _late_filing,
    _objection,
    _prepayments,
    _registration,
    _business_meals,
    _bookkeeping,
    _savers_allowance,
    _crypto,
    _share_losses,
    _basic_pension,
    _private_pension,
    _pensioner_return,
    _depreciation,
    _property_sale,
    _renovation,
)


def tax_cases(rng: Random, n: int) -> list[Case]:
    """`n` distinct questions, spread evenly over the cases."""
    cases: list[Case] = []
    seen: set[str] = set()
    while len(cases) < n:
        make = CASES[len(cases) % len(CASES)]
        case = make(rng, rng.choice((2022, 2023, 2024, 2025)))
        if case.question not in seen:
            seen.add(case.question)
            cases.append(case)
    return cases


# --- the two chatbot versions' answers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """An answer and what an expert would find in it (the judgments in `core.demo.load` are drawn from these)."""

    text: str
    profile: str
    quality: float  # 1 (useless or wrong) .. 5 (excellent)
    flags: tuple[str, ...] = ()
    issue: str = ""  # what is wrong with it, in a reviewer's words


# (profile, share): taxbot-v2 is mostly specific and correct; taxbot-v1 mostly vague or wrong. Both write in the same
# shapes ("full": figure, rule, steps, caveat; "concise": figure, rule's name, caveat) at the same shares and in the
# same tone, so that length and wording do not tell the better answer: the substance does (a wrong rate, deadline
# or rule, a source that does not exist, no figure at all).
V2_PROFILES = (("full", 0.42), ("concise", 0.38), ("generic", 0.20))
V1_PROFILES = (("vague", 0.25), ("wrong", 0.35), ("made_up", 0.20), ("good", 0.20))
SHAPES = (("full", 0.52), ("concise", 0.48))
QUALITY = {"full": 5.0, "concise": 4.5, "generic": 3.0, "good": 4.0, "vague": 2.5, "wrong": 1.5, "made_up": 1.2}

CAVEATS = (
    "This is general information for the usual case; check your own situation with a tax adviser before you file.",
    "Rules and figures change from year to year, so please confirm them with a tax adviser or the tax office.",
    "Your own circumstances may change the result: a tax adviser can confirm it for your case.",
    "Please treat this as general guidance and check the details with a tax adviser.",
)
RULE_HEADINGS = ("Rule", "The rule", "Legal basis")
STEP_HEADINGS = ("What to do:", "Next steps:", "Steps:")
SHORT_CAVEATS = (
    "Check your own case with a tax adviser.",
    "A tax adviser can confirm this for your case.",
    "Please confirm the details with a tax adviser.",
)
GENERIC_TIPS = (
    "Collect the relevant receipts and statements and enter them in the matching section of your return.",
    "The tax office's guidance pages on this topic explain the conditions in detail.",
)
FAKE_SOURCES = (
    "Tax Circular 17/2019-Q",
    "the Federal Tax Gazette No. 8841",
    "Regulation TX-404 of the Finance Ministry",
    "the 2020 Taxpayer Relief Memorandum",
    "Supreme Tax Court case IV-R 9999/98",
    "Section 77z of the Income Tax Act",
    "EU Directive 2018/771 on household deductions",
)


def _pick(rng: Random, profiles: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([p for p, _ in profiles], weights=[w for _, w in profiles])[0]


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _shaped(lead: str, rule: str, case: Case, shape: str, rng: Random) -> str:
    """An answer in one of the two shapes: `lead` (the figure), then the rule ("the name: what it says", or a name
    alone), steps and a caveat ("full"), or the rule's name and a short caveat ("concise")."""
    name, _, body = rule.partition(": ")
    if shape == "concise":
        return _join(lead, f"This follows from {name}.", rng.choice(SHORT_CAVEATS))
    steps = case.steps[: rng.choice((0, 1, 2))]
    todo = "\n".join([rng.choice(STEP_HEADINGS)] + [f"{i}. {step}" for i, step in enumerate(steps, 1)])
    basis = f"{rng.choice(RULE_HEADINGS)} ({name.removeprefix('the ')})" + (f": {body}" if body else ".")
    return "\n\n".join(s for s in (lead, basis, todo if steps else "", rng.choice(CAVEATS)) if s)


def _generic(case: Case, rng: Random) -> str:
    return _join(case.vague, rng.choice(GENERIC_TIPS), rng.choice(CAVEATS))


def v2_answer(case: Case, rng: Random) -> Answer:
    profile = _pick(rng, V2_PROFILES)
    if profile == "generic":
        issue = "too general: no figure and no rule for the case"
        return Answer(_generic(case, rng), profile, QUALITY[profile], issue=issue)
    return Answer(_shaped(case.direct, case.rule, case, profile, rng), profile, QUALITY[profile])


def v1_answer(case: Case, rng: Random) -> Answer:
    profile = _pick(rng, V1_PROFILES)
    if profile == "vague":
        return Answer(_generic(case, rng), profile, QUALITY[profile], issue="too vague to act on: no figure, no rule")
    shape = _pick(rng, SHAPES)
    if profile == "wrong":  # a wrong figure, beside the rule it contradicts
        text = _shaped(case.wrong, case.rule, case, shape, rng)
        return Answer(text, profile, QUALITY[profile], ("incorrect",), case.correction)
    if profile == "made_up":  # a wrong figure from a source that does not exist
        source = rng.choice(FAKE_SOURCES)
        text = _shaped(case.wrong, source, case, shape, rng)
        issue = f"cites {source}, which does not exist. {case.correction}"
        return Answer(text, profile, QUALITY[profile], ("hallucinated_source", "incorrect"), issue)
    return Answer(_shaped(case.direct, case.rule, case, shape, rng), profile, QUALITY[profile])


def with_markup(answer: Answer, rng: Random, script: bool = False) -> Answer:
    """The same answer with stray HTML, as a model trained on web pages sometimes writes (shown as text, never run)."""
    first, _, rest = answer.text.partition(". ")
    if script:
        text = f"{answer.text} <script>alert(1)</script>"
    elif rng.random() < 0.5:
        text = f"<b>{first}.</b> {rest}".strip() if rest else f"<b>{answer.text}</b>"
    else:
        text = f"<p>{answer.text}</p><br><i>Answer generated automatically.</i>"
    markup = "contains raw HTML markup" + (" and a script tag" if script else "")
    issue = f"{answer.issue.rstrip('.')}; {markup}" if answer.issue else markup
    return Answer(text, answer.profile, answer.quality - (0.3 if script else 0.1), answer.flags, issue)
